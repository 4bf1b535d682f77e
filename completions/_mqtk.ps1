
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mqtk' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mqtk'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mqtk' {
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (`-h` is the broker host, as in mosquitto''s clients)')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('pub', 'pub', [CompletionResultType]::ParameterValue, 'Publish messages: from an argument, a file, stdin, or stdin line by line')
            [CompletionResult]::new('sub', 'sub', [CompletionResultType]::ParameterValue, 'Subscribe and print messages as they arrive')
            [CompletionResult]::new('rr', 'rr', [CompletionResultType]::ParameterValue, 'Request/response: publish one request and print the first response')
            [CompletionResult]::new('certgen', 'certgen', [CompletionResultType]::ParameterValue, 'Make a private CA, server and client certificates, and a mosquitto TLS listener')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Create and edit mosquitto password files; check a password against one')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mqtk;pub' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic to publish to')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic to publish to')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Send this text as the payload')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'Send this text as the payload')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Send the contents of a file as the payload')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the contents of a file as the payload')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service: 0, 1 or 2')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service: 0, 1 or 2')
            [CompletionResult]::new('--repeat', '--repeat', [CompletionResultType]::ParameterName, 'Publish the message N times (not with -l)')
            [CompletionResult]::new('--repeat-delay', '--repeat-delay', [CompletionResultType]::ParameterName, 'Seconds to wait between repeats, counted from the previous acknowledgement')
            [CompletionResult]::new('--reconnect-timeout', '--reconnect-timeout', [CompletionResultType]::ParameterName, 'Give up when the broker stays unreachable for SECS seconds after the connection was lost')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host name or IP address [default: localhost]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host name or IP address [default: localhost]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect through a Unix domain socket instead of TCP')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: mqtk-<pid>]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: mqtk-<pid>]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (5 to 65535)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (5 to 65535)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Session expiry in seconds (v5); -1 means never [default with -c: never]')
            [CompletionResult]::new('--session-expiry', '--session-expiry', [CompletionResultType]::ParameterName, 'Session expiry in seconds (v5); -1 means never [default with -c: never]')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 or 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 or 5')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password; without a value, prompt for it on the terminal')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password; without a value, prompt for it on the terminal')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of a file')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (turns on TLS)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Trust every PEM CA certificate in this directory (turns on TLS)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM) for mutual TLS; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'HTTP path of the broker''s WebSocket endpoint [default: /mqtt]')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Topic of the Last Will, published by the broker if this client dies')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Payload of the Last Will')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'QoS of the Last Will')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Maximum QoS 1/2 messages in flight at once (1 to 65535)')
            [CompletionResult]::new('--max-inflight', '--max-inflight', [CompletionResultType]::ParameterName, 'Maximum QoS 1/2 messages in flight at once (1 to 65535)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Send all of stdin as one payload')
            [CompletionResult]::new('--stdin-file', '--stdin-file', [CompletionResultType]::ParameterName, 'Send all of stdin as one payload')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Send each line of stdin as its own message (the newline is not sent)')
            [CompletionResult]::new('--stdin-line', '--stdin-line', [CompletionResultType]::ParameterName, 'Send each line of stdin as its own message (the newline is not sent)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Send an empty payload (with -r: clear the retained message)')
            [CompletionResult]::new('--null-message', '--null-message', [CompletionResultType]::ParameterName, 'Send an empty payload (with -r: clear the retained message)')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Ask the broker to retain the message')
            [CompletionResult]::new('--retain', '--retain', [CompletionResultType]::ParameterName, 'Ask the broker to retain the message')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (needs -i)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (needs -i)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check that the broker''s certificate carries the host name (the chain is still verified)')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Trust the operating system''s CA certificates (turns on TLS)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Last Will')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of every MQTT packet on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of every MQTT packet on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no runtime errors (usage errors are still printed)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (`-h` is the broker host, as in mosquitto''s clients)')
            break
        }
        'mqtk;sub' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic filter to subscribe to (repeat for more; + and # wildcards)')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic filter to subscribe to (repeat for more; + and # wildcards)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service requested for every filter: 0, 1 or 2')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service requested for every filter: 0, 1 or 2')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'Do not print messages whose topic matches this filter (repeat for more)')
            [CompletionResult]::new('--filter-out', '--filter-out', [CompletionResultType]::ParameterName, 'Do not print messages whose topic matches this filter (repeat for more)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Unsubscribe from this filter after subscribing (e.g. to clean up a -c session)')
            [CompletionResult]::new('--unsubscribe', '--unsubscribe', [CompletionResultType]::ParameterName, 'Unsubscribe from this filter after subscribing (e.g. to clean up a -c session)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Exit after printing N messages')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'Exit with status 27 ("timed out") when not done after SECS seconds')
            [CompletionResult]::new('--retain-handling', '--retain-handling', [CompletionResultType]::ParameterName, 'v5: retained messages on subscribe: 0 always, 1 only for a new subscription, 2 never')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Print each message with this format string (mosquitto_sub''s -F: %t %p %j %I ...)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: plain, json (one object per line), hex or base64 (the payload)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host name or IP address [default: localhost]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host name or IP address [default: localhost]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect through a Unix domain socket instead of TCP')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: mqtk-<pid>]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: mqtk-<pid>]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (5 to 65535)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (5 to 65535)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Session expiry in seconds (v5); -1 means never [default with -c: never]')
            [CompletionResult]::new('--session-expiry', '--session-expiry', [CompletionResultType]::ParameterName, 'Session expiry in seconds (v5); -1 means never [default with -c: never]')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 or 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 or 5')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password; without a value, prompt for it on the terminal')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password; without a value, prompt for it on the terminal')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of a file')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (turns on TLS)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Trust every PEM CA certificate in this directory (turns on TLS)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM) for mutual TLS; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'HTTP path of the broker''s WebSocket endpoint [default: /mqtt]')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Topic of the Last Will, published by the broker if this client dies')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Payload of the Last Will')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'QoS of the Last Will')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Maximum QoS 1/2 messages in flight at once (1 to 65535)')
            [CompletionResult]::new('--max-inflight', '--max-inflight', [CompletionResultType]::ParameterName, 'Maximum QoS 1/2 messages in flight at once (1 to 65535)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit as soon as the broker has acknowledged the subscriptions')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Do not print retained messages (v5: ask the broker not to send them)')
            [CompletionResult]::new('--retained-only', '--retained-only', [CompletionResultType]::ParameterName, 'Print only retained messages; exit 0 once the broker has sent them all')
            [CompletionResult]::new('--remove-retained', '--remove-retained', [CompletionResultType]::ParameterName, 'Clear every retained message received (publish an empty retained message to its topic); exit 0 once all are cleared')
            [CompletionResult]::new('--retain-as-published', '--retain-as-published', [CompletionResultType]::ParameterName, 'v5: keep the retain flag of forwarded messages as the publisher set it')
            [CompletionResult]::new('--no-local', '--no-local', [CompletionResultType]::ParameterName, 'v5: do not receive messages this client publishes')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print "topic payload" ("topic (null)" for an empty payload)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print "topic payload" ("topic (null)" for an empty payload)')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Print no newline after each message')
            [CompletionResult]::new('--no-newline', '--no-newline', [CompletionResultType]::ParameterName, 'Print no newline after each message')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Indent JSON output (%j, %J, --format json)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (needs -i)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (needs -i)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check that the broker''s certificate carries the host name (the chain is still verified)')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Trust the operating system''s CA certificates (turns on TLS)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Last Will')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of every MQTT packet on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of every MQTT packet on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no runtime errors (usage errors are still printed)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (`-h` is the broker host, as in mosquitto''s clients)')
            break
        }
        'mqtk;rr' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic to publish the request to')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic to publish the request to')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Topic to wait for the response on')
            [CompletionResult]::new('--response-topic', '--response-topic', [CompletionResultType]::ParameterName, 'Topic to wait for the response on')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Send this text as the request')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'Send this text as the request')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Send the contents of a file as the request')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the contents of a file as the request')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service of the request and of the response subscription: 0, 1 or 2')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service of the request and of the response subscription: 0, 1 or 2')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'Exit with status 27 ("timed out") when no response came within SECS seconds')
            [CompletionResult]::new('--reconnect-timeout', '--reconnect-timeout', [CompletionResultType]::ParameterName, 'Give up (exit 1) when the broker stays unreachable for SECS seconds after the connection was lost; without it, rr retries for ever (or until -W)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Print each message with this format string (mosquitto_sub''s -F: %t %p %j %I ...)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: plain, json (one object per line), hex or base64 (the payload)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host name or IP address [default: localhost]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host name or IP address [default: localhost]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect through a Unix domain socket instead of TCP')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: mqtk-<pid>]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: mqtk-<pid>]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (5 to 65535)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (5 to 65535)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Session expiry in seconds (v5); -1 means never [default with -c: never]')
            [CompletionResult]::new('--session-expiry', '--session-expiry', [CompletionResultType]::ParameterName, 'Session expiry in seconds (v5); -1 means never [default with -c: never]')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 or 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 or 5')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password; without a value, prompt for it on the terminal')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password; without a value, prompt for it on the terminal')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of a file')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (turns on TLS)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Trust every PEM CA certificate in this directory (turns on TLS)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM) for mutual TLS; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'HTTP path of the broker''s WebSocket endpoint [default: /mqtt]')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Topic of the Last Will, published by the broker if this client dies')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Payload of the Last Will')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'QoS of the Last Will')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Maximum QoS 1/2 messages in flight at once (1 to 65535)')
            [CompletionResult]::new('--max-inflight', '--max-inflight', [CompletionResultType]::ParameterName, 'Maximum QoS 1/2 messages in flight at once (1 to 65535)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Send all of stdin as the request')
            [CompletionResult]::new('--stdin-file', '--stdin-file', [CompletionResultType]::ParameterName, 'Send all of stdin as the request')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Send an empty request')
            [CompletionResult]::new('--null-message', '--null-message', [CompletionResultType]::ParameterName, 'Send an empty request')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print "topic payload" ("topic (null)" for an empty payload)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print "topic payload" ("topic (null)" for an empty payload)')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Print no newline after each message')
            [CompletionResult]::new('--no-newline', '--no-newline', [CompletionResultType]::ParameterName, 'Print no newline after each message')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Indent JSON output (%j, %J, --format json)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (needs -i)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (needs -i)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check that the broker''s certificate carries the host name (the chain is still verified)')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Trust the operating system''s CA certificates (turns on TLS)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Last Will')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of every MQTT packet on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of every MQTT packet on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no runtime errors (usage errors are still printed)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (`-h` is the broker host, as in mosquitto''s clients)')
            break
        }
        'mqtk;certgen' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory to write into; created if missing')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Name or IP address clients use to reach the broker (repeat for more)')
            [CompletionResult]::new('--client', '--client', [CompletionResultType]::ParameterName, 'Make a client certificate with this common name (repeat for more)')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'Days the server and client certificates are valid (at most until the CA expires)')
            [CompletionResult]::new('--ca-days', '--ca-days', [CompletionResultType]::ParameterName, 'Days a new CA certificate is valid')
            [CompletionResult]::new('--key-type', '--key-type', [CompletionResultType]::ParameterName, 'Type of the new keys')
            [CompletionResult]::new('--ca-cn', '--ca-cn', [CompletionResultType]::ParameterName, 'Common name of a new CA [default: mqtk CA <host name> <8 random hex digits>]')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address and port of the listener in mosquitto-tls.conf [default: 8883 on every interface]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Sign with this CA certificate instead of DIR''s own CA (needs --ca-key)')
            [CompletionResult]::new('--ca-key', '--ca-key', [CompletionResultType]::ParameterName, 'Private key of --ca-cert (unencrypted PKCS#8 PEM)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace existing certificates, keys and mosquitto-tls.conf (an existing CA is still reused)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (`-h` is the broker host, as in mosquitto''s clients)')
            break
        }
        'mqtk;passwd' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Hash for new passwords: sha512-pbkdf2 ($7$), sha512 ($6$) or argon2id (mosquitto 2.1 only)')
            [CompletionResult]::new('--hash', '--hash', [CompletionResultType]::ParameterName, 'Hash for new passwords: sha512-pbkdf2 ($7$), sha512 ($6$) or argon2id (mosquitto 2.1 only)')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'PBKDF2 iterations for sha512-pbkdf2, 1 to 10000000 [default: 210000]')
            [CompletionResult]::new('--iterations', '--iterations', [CompletionResultType]::ParameterName, 'PBKDF2 iterations for sha512-pbkdf2, 1 to 10000000 [default: 210000]')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Create the file, or overwrite it, with just this user (`-c -` writes to stdout)')
            [CompletionResult]::new('--create', '--create', [CompletionResultType]::ParameterName, 'Create the file, or overwrite it, with just this user (`-c -` writes to stdout)')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Take the password from the command line (visible to other users: prefer a pipe)')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Take the password from the command line (visible to other users: prefer a pipe)')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Delete the user')
            [CompletionResult]::new('--delete', '--delete', [CompletionResultType]::ParameterName, 'Delete the user')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Hash every plaintext password in the file (entries already hashed are left alone)')
            [CompletionResult]::new('--update', '--update', [CompletionResultType]::ParameterName, 'Hash every plaintext password in the file (entries already hashed are left alone)')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Exit 0 when PASSWORD (or the one typed) matches the user''s entry, 1 when not')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (`-h` is the broker host, as in mosquitto''s clients)')
            break
        }
        'mqtk;help' {
            [CompletionResult]::new('pub', 'pub', [CompletionResultType]::ParameterValue, 'Publish messages: from an argument, a file, stdin, or stdin line by line')
            [CompletionResult]::new('sub', 'sub', [CompletionResultType]::ParameterValue, 'Subscribe and print messages as they arrive')
            [CompletionResult]::new('rr', 'rr', [CompletionResultType]::ParameterValue, 'Request/response: publish one request and print the first response')
            [CompletionResult]::new('certgen', 'certgen', [CompletionResultType]::ParameterValue, 'Make a private CA, server and client certificates, and a mosquitto TLS listener')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Create and edit mosquitto password files; check a password against one')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mqtk;help;pub' {
            break
        }
        'mqtk;help;sub' {
            break
        }
        'mqtk;help;rr' {
            break
        }
        'mqtk;help;certgen' {
            break
        }
        'mqtk;help;passwd' {
            break
        }
        'mqtk;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
