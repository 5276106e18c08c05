package dev.revenant.bench.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Reads back the whole state a demo app holds, through its own protocol, and prints one line:
 * {@code state <sha-256 of every answer> <answers>}. {@code benchmarks/e2e/recovery.sh} runs it on
 * the idle service just before the kill and on the recovered one just after it is live: the two
 * lines must be equal, or the recovery was not exact.
 *
 * <p>What it reads: {@code kv} every {@code GET k<i>} and {@code GET n<i>} of the key space (values
 * with their ids; requests written a thousand at a time, so that one force covers many answers),
 * {@code bank} every account's balance and the audit, {@code http} {@code GET /get} (the counter and
 * its last id), {@code line} {@code GET}.
 *
 * <pre>java dev.revenant.bench.e2e.StateProbe --protocol kv|bank|http|line --port N [--keys 10000]</pre>
 *
 * JDK types only: the scripts compile it with plain javac. Exit code 0, 1 if the service could not
 * be read, 2 on bad usage.
 */
public final class StateProbe {
    private static final int BATCH = 1000;

    private StateProbe() {}

    public static void main(String[] args) throws Exception {
        String protocol = null;
        int port = -1;
        int keys = 10_000;
        try {
            for (int i = 0; i + 1 < args.length; i += 2) {
                switch (args[i]) {
                    case "--protocol" -> protocol = args[i + 1];
                    case "--port" -> port = Integer.parseInt(args[i + 1]);
                    case "--keys" -> keys = Integer.parseInt(args[i + 1]);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (args.length % 2 != 0 || port < 0 || keys < 1 || protocol == null
                    || !List.of("kv", "bank", "http", "line").contains(protocol)) {
                throw new IllegalArgumentException("--protocol kv|bank|http|line and --port are required");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("StateProbe: " + e.getMessage()
                    + "\nusage: StateProbe --protocol kv|bank|http|line --port N [--keys 10000]");
            System.exit(2);
            return;
        }
        List<String> answers;
        try {
            answers = switch (protocol) {
                case "kv" -> kv(port, keys);
                case "bank" -> {
                    List<String> requests = new ArrayList<>();
                    for (int a = 0; a < 16; a++) {
                        requests.add("BAL " + a);
                    }
                    requests.add("AUDIT");
                    yield lines(port, requests);
                }
                case "line" -> lines(port, List.of("GET"));
                default -> List.of(http(port));
            };
        } catch (IOException | InterruptedException e) {
            System.err.println("StateProbe: could not read the " + protocol + " service on port " + port + ": " + e);
            System.exit(1);
            return;
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (String a : answers) {
            sha.update((a + "\n").getBytes(StandardCharsets.UTF_8));
        }
        System.out.println("state " + HexFormat.of().formatHex(sha.digest()) + " " + answers.size());
    }

    private static List<String> kv(int port, int keys) throws IOException {
        List<String> requests = new ArrayList<>(2 * keys);
        for (int i = 0; i < keys; i++) {
            requests.add("GET k" + i);
            requests.add("GET n" + i);
        }
        return lines(port, requests);
    }

    /** One connection; requests pipelined {@value #BATCH} at a time, one answer line each. */
    private static List<String> lines(int port, List<String> requests) throws IOException {
        List<String> answers = new ArrayList<>(requests.size());
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            s.setSoTimeout(60_000);
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (int from = 0; from < requests.size(); from += BATCH) {
                List<String> batch = requests.subList(from, Math.min(requests.size(), from + BATCH));
                StringBuilder b = new StringBuilder();
                batch.forEach(r -> b.append(r).append('\n'));
                out.write(b.toString().getBytes(StandardCharsets.UTF_8));
                out.flush();
                for (int i = 0; i < batch.size(); i++) {
                    String line = in.readLine();
                    if (line == null) {
                        throw new IOException("the service closed the connection after " + answers.size() + " answers");
                    }
                    answers.add(line);
                }
            }
        }
        return answers;
    }

    private static String http(int port) throws IOException, InterruptedException {
        HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/get"))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET /get answered " + r.statusCode());
        }
        return r.body().trim();
    }
}
