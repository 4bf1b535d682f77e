# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mqtk_global_optspecs
    string join \n help V/version
end

function __fish_mqtk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mqtk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mqtk_using_subcommand
    set -l cmd (__fish_mqtk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mqtk -n "__fish_mqtk_needs_command" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_needs_command" -s V -l version -d 'Print version'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "pub" -d 'Publish messages: from an argument, a file, stdin, or stdin line by line'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "sub" -d 'Subscribe and print messages as they arrive'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "rr" -d 'Request/response: publish one request and print the first response'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "sim" -d 'Simulate a fleet of sensor devices, each with its own connection'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "certgen" -d 'Make a private CA, server and client certificates, and a mosquitto TLS listener'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "passwd" -d 'Create and edit mosquitto password files; check a password against one'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s t -l topic -d 'Topic to publish to' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s m -l message -d 'Send this text as the payload' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s f -l file -d 'Send the contents of a file as the payload' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s q -l qos -d 'Quality of service: 0, 1 or 2' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l repeat -d 'Publish the message N times (not with -l)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l repeat-delay -d 'Seconds to wait between repeats, counted from the previous acknowledgement' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l reconnect-timeout -d 'Give up when the broker stays unreachable for SECS seconds after the connection was lost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s h -l host -d 'Broker host name or IP address [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s p -l port -d 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s L -l url -d 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)' -r -f
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l unix -d 'Connect through a Unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s i -l id -d 'Client id [default: mqtk-<pid>]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s I -l id-prefix -d 'Client id prefix; the process id is appended' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s k -l keepalive -d 'Keep-alive interval in seconds (5 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s x -l session-expiry -d 'Session expiry in seconds (v5); -1 means never [default with -c: never]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s V -l protocol-version -d 'MQTT protocol version: 311 or 5' -r -f -a "311\t'MQTT 3.1.1'
5\t'MQTT 5'"
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s u -l username -d 'User name' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s P -l pw -d 'Password; -P with no value prompts for it on the terminal' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l password-file -d 'Read the password from the first line of a file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l cafile -d 'Trust the CA certificates in this PEM file (turns on TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l capath -d 'Trust every PEM CA certificate in this directory (turns on TLS)' -r -f -a "(__fish_complete_directories)"
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l cert -d 'Client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l key -d 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-version -d 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)' -r -f -a "tlsv1.2\t'TLS 1.2 or 1.3'
tlsv1.3\t'TLS 1.3 only'"
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-alpn -d 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l ws-path -d 'HTTP path of the broker\'s WebSocket endpoint [default: /mqtt]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-topic -d 'Topic of the Last Will, published by the broker if this client dies' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-payload -d 'Payload of the Last Will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-qos -d 'QoS of the Last Will' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s D -l property -d 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s M -l max-inflight -d 'Maximum QoS 1/2 messages in flight at once (1 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l profile -d 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s s -l stdin-file -d 'Send all of stdin as one payload'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s l -l stdin-line -d 'Send each line of stdin as its own message (the newline is not sent)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s n -l null-message -d 'Send an empty payload (with -r: clear the retained message)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s r -l retain -d 'Ask the broker to retain the message'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (needs -i)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l insecure -d 'Do not check that the broker\'s certificate carries the host name (the chain is still verified)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns on TLS)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l ws -d 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-retain -d 'Retain the Last Will'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s d -l debug -d 'Print a trace of every MQTT packet on stderr'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l quiet -d 'Print no runtime errors (usage errors are still printed)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s t -l topic -d 'Topic filter to subscribe to (repeat for more; + and # wildcards)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s q -l qos -d 'Quality of service requested for every filter: 0, 1 or 2' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s T -l filter-out -d 'Do not print messages whose topic matches this filter (repeat for more)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s U -l unsubscribe -d 'Unsubscribe from this filter after subscribing (e.g. to clean up a -c session)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s C -l count -d 'Exit after printing N messages' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s W -d 'Exit with status 27 ("timed out") when not done after SECS seconds' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l retain-handling -d 'v5: retained messages on subscribe: 0 always, 1 only for a new subscription, 2 never' -r -f -a "0\t'send retained messages on every subscribe'
1\t'only for a new subscription'
2\t'never'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s F -d 'Print each message with this format string (mosquitto_sub\'s -F: %t %p %j %I ...)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l format -d 'Output format: plain, json (one object per line), hex or base64 (the payload)' -r -f -a "plain\t'The payload as it is (-v: after the topic)'
json\t'One JSON object per message and line: topic, payload, qos, retain, mid, properties, received'
hex\t'The payload as lowercase hex'
base64\t'The payload as base64'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s h -l host -d 'Broker host name or IP address [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s p -l port -d 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s L -l url -d 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)' -r -f
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l unix -d 'Connect through a Unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s i -l id -d 'Client id [default: mqtk-<pid>]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s I -l id-prefix -d 'Client id prefix; the process id is appended' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s k -l keepalive -d 'Keep-alive interval in seconds (5 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s x -l session-expiry -d 'Session expiry in seconds (v5); -1 means never [default with -c: never]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s V -l protocol-version -d 'MQTT protocol version: 311 or 5' -r -f -a "311\t'MQTT 3.1.1'
5\t'MQTT 5'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s u -l username -d 'User name' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s P -l pw -d 'Password; -P with no value prompts for it on the terminal' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l password-file -d 'Read the password from the first line of a file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l cafile -d 'Trust the CA certificates in this PEM file (turns on TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l capath -d 'Trust every PEM CA certificate in this directory (turns on TLS)' -r -f -a "(__fish_complete_directories)"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l cert -d 'Client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l key -d 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-version -d 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)' -r -f -a "tlsv1.2\t'TLS 1.2 or 1.3'
tlsv1.3\t'TLS 1.3 only'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-alpn -d 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l ws-path -d 'HTTP path of the broker\'s WebSocket endpoint [default: /mqtt]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-topic -d 'Topic of the Last Will, published by the broker if this client dies' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-payload -d 'Payload of the Last Will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-qos -d 'QoS of the Last Will' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s D -l property -d 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s M -l max-inflight -d 'Maximum QoS 1/2 messages in flight at once (1 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l profile -d 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s E -d 'Exit as soon as the broker has acknowledged the subscriptions'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s R -d 'Do not print retained messages (v5: ask the broker not to send them)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l retained-only -d 'Print only retained messages; exit 0 once the broker has sent them all'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l remove-retained -d 'Clear every retained message received (publish an empty retained message to its topic); exit 0 once all are cleared'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l retain-as-published -d 'v5: keep the retain flag of forwarded messages as the publisher set it'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l no-local -d 'v5: do not receive messages this client publishes'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s v -l verbose -d 'Print "topic payload" ("topic (null)" for an empty payload)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s N -l no-newline -d 'Print no newline after each message'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l pretty -d 'Indent JSON output (%j, %J, --format json)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (needs -i)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l insecure -d 'Do not check that the broker\'s certificate carries the host name (the chain is still verified)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns on TLS)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l ws -d 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-retain -d 'Retain the Last Will'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s d -l debug -d 'Print a trace of every MQTT packet on stderr'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l quiet -d 'Print no runtime errors (usage errors are still printed)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s t -l topic -d 'Topic to publish the request to' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s e -l response-topic -d 'Topic to wait for the response on' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s m -l message -d 'Send this text as the request' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s f -l file -d 'Send the contents of a file as the request' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s q -l qos -d 'Quality of service of the request and of the response subscription: 0, 1 or 2' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s W -d 'Exit with status 27 ("timed out") when no response came within SECS seconds' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l reconnect-timeout -d 'Give up (exit 1) when the broker stays unreachable for SECS seconds after the connection was lost; without it, rr retries for ever (or until -W)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s F -d 'Print each message with this format string (mosquitto_sub\'s -F: %t %p %j %I ...)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l format -d 'Output format: plain, json (one object per line), hex or base64 (the payload)' -r -f -a "plain\t'The payload as it is (-v: after the topic)'
json\t'One JSON object per message and line: topic, payload, qos, retain, mid, properties, received'
hex\t'The payload as lowercase hex'
base64\t'The payload as base64'"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s h -l host -d 'Broker host name or IP address [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s p -l port -d 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s L -l url -d 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)' -r -f
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l unix -d 'Connect through a Unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s i -l id -d 'Client id [default: mqtk-<pid>]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s I -l id-prefix -d 'Client id prefix; the process id is appended' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s k -l keepalive -d 'Keep-alive interval in seconds (5 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s x -l session-expiry -d 'Session expiry in seconds (v5); -1 means never [default with -c: never]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s V -l protocol-version -d 'MQTT protocol version: 311 or 5' -r -f -a "311\t'MQTT 3.1.1'
5\t'MQTT 5'"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s u -l username -d 'User name' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s P -l pw -d 'Password; -P with no value prompts for it on the terminal' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l password-file -d 'Read the password from the first line of a file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l cafile -d 'Trust the CA certificates in this PEM file (turns on TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l capath -d 'Trust every PEM CA certificate in this directory (turns on TLS)' -r -f -a "(__fish_complete_directories)"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l cert -d 'Client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l key -d 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-version -d 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)' -r -f -a "tlsv1.2\t'TLS 1.2 or 1.3'
tlsv1.3\t'TLS 1.3 only'"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-alpn -d 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l ws-path -d 'HTTP path of the broker\'s WebSocket endpoint [default: /mqtt]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-topic -d 'Topic of the Last Will, published by the broker if this client dies' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-payload -d 'Payload of the Last Will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-qos -d 'QoS of the Last Will' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s D -l property -d 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s M -l max-inflight -d 'Maximum QoS 1/2 messages in flight at once (1 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l profile -d 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s s -l stdin-file -d 'Send all of stdin as the request'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s n -l null-message -d 'Send an empty request'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s v -l verbose -d 'Print "topic payload" ("topic (null)" for an empty payload)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s N -l no-newline -d 'Print no newline after each message'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l pretty -d 'Indent JSON output (%j, %J, --format json)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (needs -i)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l insecure -d 'Do not check that the broker\'s certificate carries the host name (the chain is still verified)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns on TLS)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l ws -d 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-retain -d 'Retain the Last Will'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s d -l debug -d 'Print a trace of every MQTT packet on stderr'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l quiet -d 'Print no runtime errors (usage errors are still printed)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l devices -d 'Simulate N devices (the whole fleet, all shards together) [default: 10]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l fleet -d 'Read groups of devices, their metrics, rates and credentials from a TOML file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l interval -d 'Publish telemetry every DURATION: 500ms, 1s, 5m [default: 1s]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l jitter -d 'Move each interval by up to ± DURATION or ± a percentage of it: 100ms, 10% [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s q -l qos -d 'Quality of service of the telemetry: 0, 1 or 2 [default: 1]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l duration -d 'Stop after DURATION (each device publishes "offline" and disconnects)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s C -l count -d 'Stop each device after N telemetry messages' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l seed -d 'Seed every value and schedule: the same seed gives the same run [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l id-template -d 'Client id of each device, from its number and group [default: sensor-{n:04}]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l prefix -d 'Put each device\'s topics under PREFIX/<id>/ [default: mqtk/sim]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l shard -d 'Run only slice K of N of the fleet (K from 0), for N processes sharing one fleet' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l connect-rate -d 'Open at most RATE connections per second across the fleet: 500/s, 30/m' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l chaos -d 'Drop RATE of the devices per minute abruptly, at random times: 0.05 or 5%' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l bind-addr -d 'Spread the connections over these local source addresses (comma-separated)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l report -d 'Write the final report as JSON to FILE' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l fail-if -d 'Exit 6 when EXPR holds at the end (repeatable): \'errors>0\', \'p99_ack_ms>50\', \'lost>0\'' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s h -l host -d 'Broker host name or IP address [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s p -l port -d 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s L -l url -d 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)' -r -f
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l unix -d 'Connect through a Unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s i -l id -d 'Client id [default: mqtk-<pid>]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s I -l id-prefix -d 'Client id prefix; the process id is appended' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s k -l keepalive -d 'Keep-alive interval in seconds (5 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s x -l session-expiry -d 'Session expiry in seconds (v5); -1 means never [default with -c: never]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s V -l protocol-version -d 'MQTT protocol version: 311 or 5' -r -f -a "311\t'MQTT 3.1.1'
5\t'MQTT 5'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s u -l username -d 'User name' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s P -l pw -d 'Password; -P with no value prompts for it on the terminal' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l password-file -d 'Read the password from the first line of a file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l cafile -d 'Trust the CA certificates in this PEM file (turns on TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l capath -d 'Trust every PEM CA certificate in this directory (turns on TLS)' -r -f -a "(__fish_complete_directories)"
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l cert -d 'Client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l key -d 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l tls-version -d 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)' -r -f -a "tlsv1.2\t'TLS 1.2 or 1.3'
tlsv1.3\t'TLS 1.3 only'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l tls-alpn -d 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l ws-path -d 'HTTP path of the broker\'s WebSocket endpoint [default: /mqtt]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l will-topic -d 'Topic of the Last Will, published by the broker if this client dies' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l will-payload -d 'Payload of the Last Will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l will-qos -d 'QoS of the Last Will' -r -f -a "0\t'at most once'
1\t'at least once'
2\t'exactly once'"
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s D -l property -d 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s M -l max-inflight -d 'Maximum QoS 1/2 messages in flight at once (1 to 65535)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l profile -d 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l no-broadcast -d 'Devices take commands on PREFIX/<id>/commands only, not on PREFIX/all/commands'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l verify -d 'Also subscribe to the fleet\'s telemetry and count lost and duplicate messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l dry-run -d 'Print this shard\'s plan (devices, topics, rates) and exit without connecting'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (needs -i)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l insecure -d 'Do not check that the broker\'s certificate carries the host name (the chain is still verified)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns on TLS)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l ws -d 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l will-retain -d 'Retain the Last Will'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -s d -l debug -d 'Print a trace of every MQTT packet on stderr'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l quiet -d 'Print no runtime errors (usage errors are still printed)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sim" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l out -d 'Directory to write into; created if missing' -r -f -a "(__fish_complete_directories)"
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l host -d 'Name or IP address clients use to reach the broker (repeat for more)' -r -f -a "(__fish_print_hostnames)"
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l client -d 'Make a client certificate with this common name (repeat for more)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l days -d 'Days the server and client certificates are valid (at most until the CA expires)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l ca-days -d 'Days a new CA certificate is valid' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l key-type -d 'Type of the new keys' -r -f -a "ecdsa-p256\t'ECDSA on NIST P-256 with SHA-256: small, fast, accepted everywhere'
ecdsa-p384\t'ECDSA on NIST P-384 with SHA-384'
rsa-2048\t'RSA 2048 bits, for old clients without ECDSA'
rsa-3072\t'RSA 3072 bits'"
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l ca-cn -d 'Common name of a new CA [default: mqtk CA <host name> <8 random hex digits>]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l listen -d 'Address and port of the listener in mosquitto-tls.conf [default: 8883 on every interface]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l ca-cert -d 'Sign with this CA certificate instead of DIR\'s own CA (needs --ca-key)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l ca-key -d 'Private key of --ca-cert (unencrypted PKCS#8 PEM)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l force -d 'Replace existing certificates, keys and mosquitto-tls.conf (an existing CA is still reused)'
complete -c mqtk -n "__fish_mqtk_using_subcommand certgen" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -s H -l hash -d 'Hash for new passwords: sha512-pbkdf2 ($7$), sha512 ($6$) or argon2id (mosquitto 2.1 only)' -r -f -a "sha512-pbkdf2\t'\$7\$: PBKDF2-HMAC-SHA512 with a 12-byte salt (mosquitto 2.0 and 2.1)'
sha512\t'\$6\$: one round of salted SHA-512 (mosquitto 1.6 compatible; weak)'
argon2id\t'\$argon2id\$: mosquitto 2.1\'s form; 2.0 brokers reject it'"
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -s I -l iterations -d 'PBKDF2 iterations for sha512-pbkdf2, 1 to 10000000 [default: 210000]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -s c -l create -d 'Create the file, or overwrite it, with just this user (`-c -` writes to stdout)'
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -s b -l batch -d 'Take the password from the command line (visible to other users: prefer a pipe)'
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -s D -l delete -d 'Delete the user'
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -s U -l update -d 'Hash every plaintext password in the file (entries already hashed are left alone)'
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -l verify -d 'Exit 0 when PASSWORD (or the one typed) matches the user\'s entry, 1 when not'
complete -c mqtk -n "__fish_mqtk_using_subcommand passwd" -l help -d 'Print help (`-h` is the broker host, as in mosquitto\'s clients)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "pub" -d 'Publish messages: from an argument, a file, stdin, or stdin line by line'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "sub" -d 'Subscribe and print messages as they arrive'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "rr" -d 'Request/response: publish one request and print the first response'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "sim" -d 'Simulate a fleet of sensor devices, each with its own connection'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "certgen" -d 'Make a private CA, server and client certificates, and a mosquitto TLS listener'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "passwd" -d 'Create and edit mosquitto password files; check a password against one'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr sim certgen passwd help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
