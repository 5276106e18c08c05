package dev.revenant.bench.e2e;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Closed-loop load for demo-apps' {@code KvServer}: N clients, each with one blocking socket, send
 * one request, wait for its reply, check it and send the next at once (no think time). The mix is
 * 50 % {@code SET k<i> <value>}, 30 % {@code GET k<i>}, 20 % {@code INCR n<i>}, with i uniform over
 * the key space ({@code INCR} has keys of its own so that it never meets a non-number).
 *
 * <p>After a warm-up, every request that starts and ends inside the measured window is counted and
 * its latency (System.nanoTime around write and reply) kept; the result is one JSON line on
 * stdout. {@code total_requests} also counts the warm-up: it is what the server saw. Every reply
 * is checked against its request ({@code SET} gives {@code OK <16 hex>}, {@code GET} gives {@code
 * NIL} or a value of the right length and an id, {@code INCR} gives {@code INT <n>}); a mismatch,
 * in warm-up or measurement, counts as an error. A client whose connection fails stops and counts
 * in {@code failed_clients} (and as one error). Exit code 0 if there were no errors, 1 if there
 * were, 2 on bad usage.
 *
 * <pre>
 * java dev.revenant.bench.e2e.KvLoad --port N [--host 127.0.0.1] [--clients 16] [--warmup 3]
 *     [--duration 10] [--keys 10000] [--value-size 32] [--ttl-share 0] [--ttl-ms 5000] [--seed 1]
 * </pre>
 *
 * {@code --warmup}/{@code --duration} are seconds (decimals allowed); {@code --ttl-share} is the
 * percentage of SETs that carry a ttl of {@code --ttl-ms} (which makes the server read its clock).
 * JDK types only: {@code benchmarks/e2e/run.sh} compiles it with plain javac.
 *
 * <p>{@code --protocol} picks the demo app it talks to: {@code kv} (KvServer, the mix above),
 * {@code http} (HttpCounter over HTTP/1.1 keep-alive: 50 % {@code POST /incr}, 50 % {@code GET
 * /get}, each reply's status, length and {@code n id} body checked; counted as incrs and gets) or
 * {@code line} (LineCounter, which serves one connection at a time, so one client: 50 % {@code
 * INCR}, 50 % {@code GET}) or {@code bank} (BankServer with its 16 accounts: 90 % {@code XFER} of 1
 * unit between two random accounts, counted as sets, 10 % {@code AUDIT}, counted as gets, whose total
 * must be the opening 16000). The key and value options only apply to {@code kv}.
 */
public final class KvLoad {

    private static final String USAGE = "usage: KvLoad --port N [--protocol kv|http|line] [--host 127.0.0.1] [--clients 16]"
        + " [--warmup 3] [--duration 10] [--keys 10000] [--value-size 32] [--ttl-share 0] [--ttl-ms 5000] [--seed 1]";
    private static final Map<String, String> DEFAULTS = new LinkedHashMap<>();

    static {
        DEFAULTS.put("host", "127.0.0.1");
        DEFAULTS.put("port", null);
        DEFAULTS.put("clients", "16");
        DEFAULTS.put("warmup", "3");
        DEFAULTS.put("duration", "10");
        DEFAULTS.put("keys", "10000");
        DEFAULTS.put("value-size", "32");
        DEFAULTS.put("ttl-share", "0");
        DEFAULTS.put("ttl-ms", "5000");
        DEFAULTS.put("seed", "1");
        DEFAULTS.put("protocol", "kv");
    }

    private final String host;
    private final int port;
    private final int keys;
    private final int valueSize;
    private final int ttlShare;
    private final long ttlMillis;
    private final String protocol;
    private final AtomicReference<String> firstError = new AtomicReference<>();

    private KvLoad(Map<String, String> o) {
        host = o.get("host");
        port = Integer.parseInt(o.get("port"));
        keys = Integer.parseInt(o.get("keys"));
        valueSize = Integer.parseInt(o.get("value-size"));
        ttlShare = Integer.parseInt(o.get("ttl-share"));
        ttlMillis = Long.parseLong(o.get("ttl-ms"));
        protocol = o.get("protocol");
        if (!List.of("kv", "http", "line", "bank").contains(protocol)) {
            throw new IllegalArgumentException("--protocol is kv, http, line or bank");
        }
        if (keys < 1 || valueSize < 1 || ttlShare < 0 || ttlShare > 100 || ttlMillis < 0) {
            throw new IllegalArgumentException("keys and value-size must be >= 1, ttl-share 0..100, ttl-ms >= 0");
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>(DEFAULTS);
        KvLoad load;
        int clients;
        long warmupNanos;
        long durationNanos;
        try {
            for (int i = 0; i < args.length; i++) {
                String name = args[i].startsWith("--") ? args[i].substring(2) : "";
                if (!DEFAULTS.containsKey(name) || i + 1 == args.length) {
                    throw new IllegalArgumentException("unknown option or missing value: " + args[i]);
                }
                o.put(name, args[++i]);
            }
            if (o.get("port") == null) {
                throw new IllegalArgumentException("--port is required");
            }
            load = new KvLoad(o);
            clients = Integer.parseInt(o.get("clients"));
            warmupNanos = secondsToNanos(o.get("warmup"));
            durationNanos = secondsToNanos(o.get("duration"));
            if (clients < 1 || warmupNanos < 0 || durationNanos <= 0) {
                throw new IllegalArgumentException("clients >= 1, warmup >= 0 and duration > 0 please");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("KvLoad: " + e.getMessage() + "\n" + USAGE);
            System.exit(2);
            return;
        }
        Map<String, Object> result = load.run(clients, warmupNanos, durationNanos, Long.parseLong(o.get("seed")));
        result.put("protocol", load.protocol);
        result.put("clients", clients);
        result.put("warmup_s", Double.parseDouble(o.get("warmup")));
        result.put("keys", load.keys);
        result.put("value_size", load.valueSize);
        result.put("ttl_share", load.ttlShare);
        System.out.println(toJson(result));
        System.exit(((Number) result.get("errors")).longValue() == 0 ? 0 : 1);
    }

    private static long secondsToNanos(String seconds) {
        return (long) (Double.parseDouble(seconds) * 1e9);
    }

    /** One client's thread: its socket, its random stream and what it measured. */
    private final class Client implements Runnable {
        final Socket socket;
        final SplittableRandom random;
        final String[] values = new String[64];
        final byte[] reply = new byte[256];
        long[] latencies = new long[1 << 16];
        int measured;
        long completed;
        long errors;
        long sets;
        long gets;
        long incrs;
        boolean failed;
        long warmEnd;
        long measureEnd;

        Client(Socket socket, SplittableRandom random) {
            this.socket = socket;
            this.random = random;
            for (int i = 0; i < values.length; i++) {
                StringBuilder v = new StringBuilder(valueSize);
                for (int j = 0; j < valueSize; j++) {
                    v.append((char) ('a' + random.nextInt(26)));
                }
                values[i] = v.toString();
            }
        }

        @Override
        public void run() {
            try (Socket s = socket) {
                OutputStream out = s.getOutputStream();
                InputStream in = new BufferedInputStream(s.getInputStream(), 8192);
                StringBuilder request = new StringBuilder(64 + valueSize);
                for (long t0; (t0 = System.nanoTime()) < measureEnd; ) {
                    int dice = random.nextInt(100);
                    int kind;
                    request.setLength(0);
                    if (protocol.equals("kv")) {
                        kind = dice < 50 ? 0 : dice < 80 ? 1 : 2;
                        int key = random.nextInt(keys);
                        switch (kind) {
                            case 0 -> {
                                request.append("SET k").append(key).append(' ').append(values[random.nextInt(values.length)]);
                                if (ttlShare > 0 && random.nextInt(100) < ttlShare) {
                                    request.append(' ').append(ttlMillis);
                                }
                            }
                            case 1 -> request.append("GET k").append(key);
                            default -> request.append("INCR n").append(key);
                        }
                        request.append('\n');
                    } else if (protocol.equals("bank")) {
                        kind = dice < 90 ? 0 : 1;
                        if (kind == 0) {
                            int from = random.nextInt(16);
                            request.append("XFER ").append(from).append(' ').append((from + 1 + random.nextInt(15)) % 16)
                                .append(" 1\n");
                        } else {
                            request.append("AUDIT\n");
                        }
                    } else if (protocol.equals("http")) {
                        kind = dice < 50 ? 2 : 1;
                        request.append(kind == 2 ? "POST /incr" : "GET /get").append(" HTTP/1.1\r\nHost: bench\r\n")
                            .append("Content-Length: 0\r\n\r\n");
                    } else {
                        kind = dice < 50 ? 2 : 1;
                        request.append(kind == 2 ? "INCR\n" : "GET\n");
                    }
                    out.write(request.toString().getBytes(StandardCharsets.US_ASCII));
                    int n = protocol.equals("http") ? readHttpReply(in) : readReply(in);
                    long t1 = System.nanoTime();
                    completed++;
                    if (!(protocol.equals("kv") ? replyFits(kind, n) : protocol.equals("http") ? httpFits(n)
                        : protocol.equals("bank") ? bankFits(kind, n) : lineFits(kind, n))) {
                        errors++;
                        firstError.compareAndSet(null, "request '" + request.toString().trim() + "' got '"
                            + new String(reply, 0, Math.max(0, n), StandardCharsets.UTF_8) + "'");
                    }
                    if (t0 >= warmEnd && t1 <= measureEnd) {
                        if (measured == latencies.length) {
                            latencies = Arrays.copyOf(latencies, measured * 2);
                        }
                        latencies[measured++] = t1 - t0;
                        switch (kind) {
                            case 0 -> sets++;
                            case 1 -> gets++;
                            default -> incrs++;
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                failed = true;
                firstError.compareAndSet(null, "client failed: " + e);
            }
        }

        /**
         * Reads one reply line into {@code reply}; returns its length without the newline, or -1 if
         * the reply was longer than the buffer (the rest is skipped).
         */
        private int readReply(InputStream in) throws IOException {
            int n = 0;
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) {
                    throw new IOException("server closed the connection");
                }
                if (n >= 0 && n < reply.length) {
                    reply[n++] = (byte) b;
                } else {
                    n = -1;
                }
            }
            return n;
        }

        /**
         * Reads one HTTP/1.1 reply (status line, headers, a Content-Length body); keeps its body in
         * {@code reply} and returns the body's length without the newline, -1 if the status is not
         * 200 or the body does not fit.
         */
        private int readHttpReply(InputStream in) throws IOException {
            boolean ok = false;
            int length = -1;
            for (int line = 0; ; line++) {
                int n = readReply(in);
                int end = n > 0 && reply[n - 1] == '\r' ? n - 1 : n;
                if (end == 0) {
                    break;
                }
                String header = n < 0 ? "" : new String(reply, 0, end, StandardCharsets.US_ASCII);
                if (line == 0) {
                    ok = header.startsWith("HTTP/1.1 200");
                } else if (header.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                    length = Integer.parseInt(header.substring(15).trim());
                }
            }
            if (length < 0 || length > reply.length) {
                throw new IOException("reply without a usable Content-Length");
            }
            int got = 0;
            while (got < length) {
                int r = in.read(reply, got, length - got);
                if (r < 0) {
                    throw new IOException("server closed the connection");
                }
                got += r;
            }
            return ok && length > 0 && reply[length - 1] == '\n' ? length - 1 : -1;
        }

        /** HttpCounter's body: {@code n id}, id 16 hex digits (or {@code -} before the first increment). */
        private boolean httpFits(int n) {
            int sp = -1;
            for (int i = 0; i < n; i++) {
                if (reply[i] == ' ') {
                    sp = i;
                    break;
                }
            }
            return sp > 0 && isNumber(0, sp) && ((n - sp - 1 == 16 && isHex(sp + 1, 16)) || (n == sp + 2 && reply[sp + 1] == '-'));
        }

        /** LineCounter: {@code INT n hex} for INCR, {@code VALUE n} for GET. */
        private boolean bankFits(int kind, int n) {
            if (kind == 0) {
                return n == 7 && startsWith("NOFUNDS") || n > 3 && startsWith("OK ") && isNumber(3, n);
            }
            return n > 22 && startsWith("TOTAL 16000 transfers ") && isNumber(22, n);
        }

        private boolean lineFits(int kind, int n) {
            if (kind == 2) {
                return n > 4 + 1 + 16 && startsWith("INT ") && reply[n - 17] == ' ' && isNumber(4, n - 17)
                    && isHex(n - 16, 16);
            }
            return n > 6 && startsWith("VALUE ") && isNumber(6, n);
        }

        private boolean replyFits(int kind, int n) {
            if (n < 0) {
                return false;
            }
            return switch (kind) {
                case 0 -> n == 3 + 16 && startsWith("OK ") && isHex(3, 16);
                case 1 -> (n == 3 && startsWith("NIL"))
                    || (n == 6 + valueSize + 1 + 16 && startsWith("VALUE ") && reply[6 + valueSize] == ' '
                    && isHex(n - 16, 16));
                default -> n > 4 && startsWith("INT ") && isNumber(4, n);
            };
        }

        private boolean startsWith(String prefix) {
            for (int i = 0; i < prefix.length(); i++) {
                if (reply[i] != prefix.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        private boolean isHex(int from, int count) {
            for (int i = from; i < from + count; i++) {
                byte b = reply[i];
                if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'f'))) {
                    return false;
                }
            }
            return true;
        }

        private boolean isNumber(int from, int to) {
            int first = reply[from] == '-' ? from + 1 : from;
            if (first == to) {
                return false;
            }
            for (int i = first; i < to; i++) {
                if (reply[i] < '0' || reply[i] > '9') {
                    return false;
                }
            }
            return true;
        }
    }

    private Map<String, Object> run(int clientCount, long warmupNanos, long durationNanos, long seed)
        throws InterruptedException {
        SplittableRandom seeds = new SplittableRandom(seed);
        List<Client> clients = new ArrayList<>();
        Map<String, Object> r = new LinkedHashMap<>();
        try {
            for (int i = 0; i < clientCount; i++) {
                Socket s = new Socket();
                s.setTcpNoDelay(true);
                s.setSoTimeout(30_000);
                s.connect(new InetSocketAddress(host, port), 10_000);
                clients.add(new Client(s, seeds.split()));
            }
        } catch (IOException e) {
            System.err.println("KvLoad: cannot connect to " + host + ":" + port + ": " + e);
            System.exit(1);
        }
        // All connected before the clock starts, so connection set-up is in nobody's figures.
        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < clients.size(); i++) {
            Client c = clients.get(i);
            c.warmEnd = start + warmupNanos;
            c.measureEnd = c.warmEnd + durationNanos;
            Thread t = new Thread(c, "kvload-" + i);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }

        long total = 0;
        long completed = 0;
        long errors = 0;
        long sets = 0;
        long gets = 0;
        long incrs = 0;
        int failed = 0;
        for (Client c : clients) {
            total += c.measured;
            completed += c.completed;
            errors += c.errors + (c.failed ? 1 : 0);
            sets += c.sets;
            gets += c.gets;
            incrs += c.incrs;
            failed += c.failed ? 1 : 0;
        }
        long[] all = new long[(int) total];
        int at = 0;
        for (Client c : clients) {
            System.arraycopy(c.latencies, 0, all, at, c.measured);
            at += c.measured;
        }
        Arrays.sort(all);
        double seconds = durationNanos / 1e9;
        r.put("requests", total);
        r.put("seconds", seconds);
        r.put("throughput", round(total / seconds, 1));
        r.put("p50_us", micros(percentile(all, 0.50)));
        r.put("p99_us", micros(percentile(all, 0.99)));
        r.put("p999_us", micros(percentile(all, 0.999)));
        r.put("mean_us", micros(total == 0 ? 0 : (long) (Arrays.stream(all).asDoubleStream().sum() / total)));
        r.put("max_us", micros(total == 0 ? 0 : all[all.length - 1]));
        r.put("total_requests", completed);
        r.put("errors", errors);
        r.put("failed_clients", failed);
        r.put("sets", sets);
        r.put("gets", gets);
        r.put("incrs", incrs);
        r.put("first_error", firstError.get());
        return r;
    }

    /** Nearest-rank percentile of sorted values (0 if there are none). */
    private static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
    }

    private static double micros(long nanos) {
        return round(nanos / 1e3, 1);
    }

    private static double round(double v, int decimals) {
        double f = Math.pow(10, decimals);
        return Math.round(v * f) / f;
    }

    static String toJson(Map<String, ?> map) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, ?> e : map.entrySet()) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append(quote(e.getKey())).append(':');
            Object v = e.getValue();
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Number) {
                sb.append(String.format(Locale.ROOT, "%s", v));
            } else {
                sb.append(quote(v.toString()));
            }
        }
        return sb.append('}').toString();
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
