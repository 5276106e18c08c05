# What each demo app (kv, tkv, bank, http, line) needs in the end-to-end scripts (sourced by run.sh and recovery.sh): its main
# class, the line it prints when it listens, how many clients KvLoad runs against it, JVM options.
app_main() { case $1 in kv) echo dev.revenant.demo.KvServer ;; tkv) echo dev.revenant.demo.ThreadedKvServer ;; bank) echo dev.revenant.demo.BankServer ;; http) echo dev.revenant.demo.HttpCounter ;; line) echo dev.revenant.demo.LineCounter ;; esac; }
app_ready() { case $1 in kv|tkv) echo 'kv listening on' ;; bank) echo 'bank listening on' ;; http) echo 'http listening on' ;; line) echo 'linecounter listening on' ;; esac; }
# The protocol KvLoad speaks to it: the thread-per-connection server speaks KvServer's.
app_protocol() { case $1 in tkv) echo kv ;; *) echo "$1" ;; esac; }
app_clients() { case $1 in line) echo 1 ;; *) echo "$CLIENTS" ;; esac; }
# HttpServer: without TCP_NODELAY its Nagle delay meets the client's delayed ACK (40 ms a request).
app_opts() { case $1 in http) echo '-Dsun.net.httpserver.nodelay=true' ;; *) echo '' ;; esac; }
