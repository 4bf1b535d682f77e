
use builtin;
use str;

set edit:completion:arg-completer[mqtk] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mqtk'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mqtk'= {
            cand --help 'Print help (`-h` is the broker host, as in mosquitto''s clients)'
            cand -V 'Print version'
            cand --version 'Print version'
            cand pub 'Publish messages: from an argument, a file, stdin, or stdin line by line'
            cand certgen 'Make a private CA, server and client certificates, and a mosquitto TLS listener'
            cand passwd 'Create and edit mosquitto password files; check a password against one'
            cand generate 'Write shell completions and man pages (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mqtk;pub'= {
            cand -t 'Topic to publish to'
            cand --topic 'Topic to publish to'
            cand -m 'Send this text as the payload'
            cand --message 'Send this text as the payload'
            cand -f 'Send the contents of a file as the payload'
            cand --file 'Send the contents of a file as the payload'
            cand -q 'Quality of service: 0, 1 or 2'
            cand --qos 'Quality of service: 0, 1 or 2'
            cand --repeat 'Publish the message N times (not with -l)'
            cand --repeat-delay 'Seconds to wait between repeats, counted from the previous acknowledgement'
            cand -h 'Broker host name or IP address [default: localhost]'
            cand --host 'Broker host name or IP address [default: localhost]'
            cand -p 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]'
            cand --port 'Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]'
            cand -L 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)'
            cand --url 'Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)'
            cand --unix 'Connect through a Unix domain socket instead of TCP'
            cand -i 'Client id [default: mqtk-<pid>]'
            cand --id 'Client id [default: mqtk-<pid>]'
            cand -I 'Client id prefix; the process id is appended'
            cand --id-prefix 'Client id prefix; the process id is appended'
            cand -k 'Keep-alive interval in seconds (5 to 65535)'
            cand --keepalive 'Keep-alive interval in seconds (5 to 65535)'
            cand -x 'Session expiry in seconds (v5); -1 means never [default with -c: never]'
            cand --session-expiry 'Session expiry in seconds (v5); -1 means never [default with -c: never]'
            cand -V 'MQTT protocol version: 311 or 5'
            cand --protocol-version 'MQTT protocol version: 311 or 5'
            cand -u 'User name'
            cand --username 'User name'
            cand -P 'Password; without a value, prompt for it on the terminal'
            cand --pw 'Password; without a value, prompt for it on the terminal'
            cand --password-file 'Read the password from the first line of a file'
            cand --cafile 'Trust the CA certificates in this PEM file (turns on TLS)'
            cand --capath 'Trust every PEM CA certificate in this directory (turns on TLS)'
            cand --cert 'Client certificate (PEM) for mutual TLS; needs --key'
            cand --key 'Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)'
            cand --tls-version 'Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)'
            cand --tls-alpn 'Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)'
            cand --ws-path 'HTTP path of the broker''s WebSocket endpoint [default: /mqtt]'
            cand --will-topic 'Topic of the Last Will, published by the broker if this client dies'
            cand --will-payload 'Payload of the Last Will'
            cand --will-qos 'QoS of the Last Will'
            cand -D 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)'
            cand --property 'MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)'
            cand -M 'Maximum QoS 1/2 messages in flight at once (1 to 65535)'
            cand --max-inflight 'Maximum QoS 1/2 messages in flight at once (1 to 65535)'
            cand -s 'Send all of stdin as one payload'
            cand --stdin-file 'Send all of stdin as one payload'
            cand -l 'Send each line of stdin as its own message (the newline is not sent)'
            cand --stdin-line 'Send each line of stdin as its own message (the newline is not sent)'
            cand -n 'Send an empty payload (with -r: clear the retained message)'
            cand --null-message 'Send an empty payload (with -r: clear the retained message)'
            cand -r 'Ask the broker to retain the message'
            cand --retain 'Ask the broker to retain the message'
            cand -c 'Keep the session on the broker after disconnecting (needs -i)'
            cand --disable-clean-session 'Keep the session on the broker after disconnecting (needs -i)'
            cand --insecure 'Do not check that the broker''s certificate carries the host name (the chain is still verified)'
            cand --tls-use-os-certs 'Trust the operating system''s CA certificates (turns on TLS)'
            cand --ws 'Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)'
            cand --will-retain 'Retain the Last Will'
            cand -d 'Print a trace of every MQTT packet on stderr'
            cand --debug 'Print a trace of every MQTT packet on stderr'
            cand --quiet 'Print no runtime errors (usage errors are still printed)'
            cand --help 'Print help (`-h` is the broker host, as in mosquitto''s clients)'
        }
        &'mqtk;certgen'= {
            cand --out 'Directory to write into; created if missing'
            cand --host 'Name or IP address clients use to reach the broker (repeat for more)'
            cand --client 'Make a client certificate with this common name (repeat for more)'
            cand --days 'Days the server and client certificates are valid (at most until the CA expires)'
            cand --ca-days 'Days a new CA certificate is valid'
            cand --key-type 'Type of the new keys'
            cand --ca-cn 'Common name of a new CA [default: mqtk CA <host name>]'
            cand --ca-cert 'Sign with this CA certificate instead of DIR''s own CA (needs --ca-key)'
            cand --ca-key 'Private key of --ca-cert (unencrypted PKCS#8 PEM)'
            cand --force 'Replace existing certificates, keys and mosquitto-tls.conf (an existing CA is still reused)'
            cand --help 'Print help (`-h` is the broker host, as in mosquitto''s clients)'
        }
        &'mqtk;passwd'= {
            cand -H 'Hash for new passwords: sha512-pbkdf2 ($7$), sha512 ($6$) or argon2id (mosquitto 2.1 only)'
            cand --hash 'Hash for new passwords: sha512-pbkdf2 ($7$), sha512 ($6$) or argon2id (mosquitto 2.1 only)'
            cand -I 'PBKDF2 iterations for sha512-pbkdf2 [default: 210000]'
            cand --iterations 'PBKDF2 iterations for sha512-pbkdf2 [default: 210000]'
            cand -c 'Create the file, or overwrite it, with just this user (`-c -` writes to stdout)'
            cand --create 'Create the file, or overwrite it, with just this user (`-c -` writes to stdout)'
            cand -b 'Take the password from the command line (visible to other users: prefer a pipe)'
            cand --batch 'Take the password from the command line (visible to other users: prefer a pipe)'
            cand -D 'Delete the user'
            cand --delete 'Delete the user'
            cand -U 'Hash every plaintext password in the file (entries already hashed are left alone)'
            cand --update 'Hash every plaintext password in the file (entries already hashed are left alone)'
            cand --verify 'Exit 0 when PASSWORD (or the one typed) matches the user''s entry, 1 when not'
            cand --help 'Print help (`-h` is the broker host, as in mosquitto''s clients)'
        }
        &'mqtk;generate'= {
            cand --help 'Print help (`-h` is the broker host, as in mosquitto''s clients)'
        }
        &'mqtk;help'= {
            cand pub 'Publish messages: from an argument, a file, stdin, or stdin line by line'
            cand certgen 'Make a private CA, server and client certificates, and a mosquitto TLS listener'
            cand passwd 'Create and edit mosquitto password files; check a password against one'
            cand generate 'Write shell completions and man pages (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mqtk;help;pub'= {
        }
        &'mqtk;help;certgen'= {
        }
        &'mqtk;help;passwd'= {
        }
        &'mqtk;help;generate'= {
        }
        &'mqtk;help;help'= {
        }
    ]
    $completions[$command]
}
