package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * {@code revenant diagram} end to end: pages made from real demo logs (the KV server killed,
 * recovered and killed again; the JDK's HttpServer killed) and from a generated log of 10^5
 * records are opened in headless Chromium, and what each page reports about itself (lanes, event
 * counts, errors, render and zoom times) is checked against what {@code export} reads from the
 * same logs. Chromium must be installed ({@code .ci/run} installs it): without it the test fails.
 */
class DiagramIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");
    /** Generated log: records written by the test (the two session headers come on top). */
    static final int GENERATED = 100_000;
    /** Bounds for the generated log on the shared 2-core CI machine (measured figures: benchmarks/README.md). */
    static final double MAX_RENDER_MS = 15_000;
    static final double MAX_MEDIAN_FRAME_MS = 100;
    static final double MAX_FRAME_MS = 1000; // one frame preempted on a loaded machine took 300 ms

    @TempDir
    static Path shared;
    static Path kv;
    static Path http;

    @TempDir
    Path tmp;

    @BeforeAll
    static void recordDemoLogs() throws Exception {
        Chromium.binary(); // fail first, and clearly, without a browser
        kv = shared.resolve("kv");
        Files.createDirectories(kv);
        KvRecoveryIT.Server s = KvRecoveryIT.record(kv, ENV, "pessimistic");
        OpsCliIT.talk(s.port(), OpsCliIT.CONN1);
        OpsCliIT.talk(s.port(), OpsCliIT.CONN2);
        KvRecoveryIT.kill(s);
        KvRecoveryIT.Server r = KvRecoveryIT.recover(kv, ENV, s.port());
        try {
            OpsCliIT.talk(s.port(), List.of("GET a", "SET c 3", "INCR n"));
        } finally {
            KvRecoveryIT.kill(r);
        }

        http = shared.resolve("http");
        Files.createDirectories(http);
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + http));
        cmd.addAll(HttpRecoveryIT.serverCommand().subList(1, HttpRecoveryIT.serverCommand().size()));
        try (JavaProcess p = JavaProcess.start(ENV, cmd)) {
            String l = p.await(x -> x.startsWith("http listening on "), 60);
            int port = Integer.parseInt(l.substring("http listening on ".length()).trim());
            try (HttpRecoveryIT.Http h = new HttpRecoveryIT.Http(port)) {
                for (int i = 0; i < 5; i++) {
                    h.call("POST", "/incr");
                }
                h.call("GET", "/get");
            }
            p.kill9();
        }
    }

    /** What export reads from a log: records by type, and the threads in the order they first appear. */
    record Exported(Map<String, Long> counts, Set<String> threads, long total) {}

    static Exported export(Path log) throws Exception {
        Cli.Result r = Cli.run("export", "--log", log.toString(), "--format", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Long> counts = new TreeMap<>();
        Set<String> threads = new LinkedHashSet<>();
        long total = 0;
        for (String line : r.out().lines().toList()) {
            Map<String, Object> rec = MiniJson.object(line);
            counts.merge((String) rec.get("type"), 1L, Long::sum);
            threads.add("thread " + rec.get("thread"));
            total++;
        }
        return new Exported(counts, threads, total);
    }

    static Map<String, Long> longs(Object o) {
        Map<String, Long> m = new TreeMap<>();
        @SuppressWarnings("unchecked")
        Map<String, Object> in = (Map<String, Object>) o;
        in.forEach((k, v) -> m.put(k, ((Number) v).longValue()));
        return m;
    }

    /** The page holds no reference to anything outside itself: no src, href, url() or scheme outside its data. */
    static void assertSelfContained(Path html) throws IOException {
        keep(html);
        String page = Files.readString(html, StandardCharsets.UTF_8);
        String outsideData = page.replaceAll("(?s)<script type=\"application/json\" id=\"revenant-(events|meta)\">.*?</script>",
                "");
        assertThat(outsideData).doesNotContain("src=").doesNotContain("href=").doesNotContain("url(")
                .doesNotContain("://").doesNotContain("@import").contains("<canvas");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(html))).isEqualTo("rw-------");
    }

    /** With -Drevenant.it.keepPages=DIR the pages are copied there, to be looked at. */
    static void keep(Path html) throws IOException {
        String dir = System.getProperty("revenant.it.keepPages");
        if (dir != null && !dir.isBlank()) {
            Files.createDirectories(Path.of(dir));
            Files.copy(html, Path.of(dir).resolve(html.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void aRecordedServerLogDrawsItsThreadsAndEveryRecord() throws Exception {
        System.out.println("DiagramIT: " + Chromium.version());
        Exported kvx = export(kv);
        assertThat(kvx.counts()).containsKeys("HEADER", "CONTINUES", "SOCKET_ACCEPT", "SOCKET_READ", "SELECT");
        assertThat(kvx.counts().get("HEADER")).isEqualTo(2);

        Path page = tmp.resolve("kv.html");
        Cli.Result r = Cli.run("diagram", "--log", kv.toString(), "-o", page.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> summary = MiniJson.object(r.out());
        assertThat(summary.get("output")).isEqualTo(page.toString());
        assertThat(MiniJson.num(summary, "bytes")).isEqualTo(Files.size(page));
        assertThat(longs(summary.get("eventCounts"))).isEqualTo(kvx.counts());
        assertThat(MiniJson.list(summary, "lanes")).containsExactlyElementsOf(kvx.threads());
        assertSelfContained(page);

        Chromium.Page p = Chromium.open(page, null, tmp, 120);
        Map<String, Object> rep = p.report();
        System.out.println("DiagramIT: demo log, " + kvx.total() + " events: renderMs=" + rep.get("renderMs")
                + " firstDrawMs=" + rep.get("firstDrawMs") + " (chromium wall " + p.wallMillis() + " ms)");
        assertThat(p.dom()).contains("data-rendered=\"1\"");
        assertThat(MiniJson.list(rep, "consoleErrors")).isEmpty();
        assertThat(rep.get("rendered")).isEqualTo(true);
        assertThat(MiniJson.list(rep, "lanes")).containsExactlyElementsOf(kvx.threads());
        assertThat(longs(rep.get("eventCounts"))).isEqualTo(kvx.counts());
        assertThat(MiniJson.num(rep, "totalEvents")).isEqualTo(kvx.total());
        assertThat(MiniJson.num(rep, "eventsInView")).as("everything in view after fit").isEqualTo(kvx.total());
        assertThat(longs(rep.get("marks"))).containsEntry("session", 2L).containsEntry("continues", 1L)
                .containsEntry("fresh", 1L);
        assertThat(MiniJson.list(rep, "damage")).isEmpty();

        // Two processes in one page: each log is a group of its own lanes, named after the log.
        Exported httpx = export(http);
        assertThat(httpx.threads().size()).as("HttpServer threads").isGreaterThan(1);
        Path both = tmp.resolve("both.html");
        Cli.Result rb = Cli.run("diagram", "--log", kv.toString(), "--log", http.toString(), "-o", both.toString());
        assertThat(rb.exit()).as(rb.err()).isZero();
        assertThat(rb.out()).contains("written to " + both).contains("from 2 log(s)");
        Chromium.Page pb = Chromium.open(both, "selftest", tmp, 120);
        Map<String, Object> rb2 = pb.report();
        assertThat(MiniJson.list(rb2, "consoleErrors")).isEmpty();
        List<String> lanes = new ArrayList<>();
        kvx.threads().forEach(t -> lanes.add("kv: " + t));
        httpx.threads().forEach(t -> lanes.add("http: " + t));
        assertThat(MiniJson.list(rb2, "lanes")).containsExactlyElementsOf(lanes);
        Map<String, Long> sum = new TreeMap<>(kvx.counts());
        httpx.counts().forEach((k, v) -> sum.merge(k, v, Long::sum));
        assertThat(longs(rb2.get("eventCounts"))).isEqualTo(sum);
        assertThat(MiniJson.list(rb2, "groups")).hasSize(2);
        assertThat(MiniJson.at(rb2, "groups", 1, "log")).isEqualTo("http");
        // The self-test's click pinned a socket event and linked its connection's events.
        assertThat(MiniJson.num(rb2, "selftest", "click", "linked")).isGreaterThan(1);
        assertThat(MiniJson.at(rb2, "selftest", "hover", "tip").toString())
                .startsWith(MiniJson.at(rb2, "selftest", "hover", "expectedType").toString());
    }

    @Test
    void aHundredThousandEventsRenderAndZoomInTime() throws Exception {
        Path log = tmp.resolve("big");
        Map<Long, Long> byConn = new TreeMap<>();
        Map<String, Long> written = generate(log, byConn);
        Map<String, Object> verify = MiniJson.object(Cli.run("verify", "--log", log.toString(), "--json").out());
        long records = MiniJson.num(verify, "records");
        assertThat(records).isEqualTo(GENERATED + 2);

        Path page = tmp.resolve("big.html");
        long t0 = System.nanoTime();
        Cli.Result r = Cli.run("diagram", "--log", log.toString(), "-o", page.toString(), "--json");
        long cliMs = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r.exit()).as(r.err()).isZero();
        assertSelfContained(page);

        Chromium.Page plain = Chromium.open(page, null, tmp, 180);
        Chromium.Page p = Chromium.open(page, "selftest", tmp, 180);
        Map<String, Object> rep = p.report();
        System.out.println("DiagramIT: " + records + " events, page " + Files.size(page) / 1024 + " KiB written in "
                + cliMs + " ms (CLI JVM included); renderMs=" + plain.report().get("renderMs") + " (parse "
                + plain.report().get("parseMs") + ", first draw " + plain.report().get("firstDrawMs")
                + "), chromium wall " + plain.wallMillis() + " ms; self-test: " + MiniJson.at(rep, "selftest"));
        for (Map<String, Object> o : List.of(plain.report(), rep)) {
            assertThat(MiniJson.list(o, "consoleErrors")).isEmpty();
            assertThat(o.get("rendered")).isEqualTo(true);
            assertThat(MiniJson.num(o, "totalEvents")).isEqualTo(records);
            assertThat(longs(o.get("eventCounts"))).isEqualTo(written);
            assertThat(((Number) o.get("renderMs")).doubleValue()).as("render ms").isLessThan(MAX_RENDER_MS);
        }
        assertThat(MiniJson.list(rep, "lanes")).hasSize(9).contains("thread 0", "thread 7000000000000000001");
        assertThat(longs(rep.get("marks"))).containsEntry("session", 2L).containsEntry("checkpoint", 4L)
                .containsEntry("continues", 1L);
        assertThat(MiniJson.num(rep, "selftest", "steps")).isEqualTo(20);
        assertThat(((Number) MiniJson.at(rep, "selftest", "zoomedIn")).doubleValue()).as("10 steps of 1.5x in")
                .isBetween(57.0, 58.0);
        assertThat(((Number) MiniJson.at(rep, "selftest", "zoomedBack")).doubleValue()).as("and back out")
                .isBetween(0.99, 1.01);
        assertThat(((Number) MiniJson.at(rep, "selftest", "medianFrameMs")).doubleValue()).isLessThan(MAX_MEDIAN_FRAME_MS);
        assertThat(((Number) MiniJson.at(rep, "selftest", "maxFrameMs")).doubleValue()).isLessThan(MAX_FRAME_MS);
        assertThat(MiniJson.at(rep, "selftest", "hover", "tip").toString())
                .startsWith(MiniJson.at(rep, "selftest", "hover", "expectedType").toString());
        // The click pinned the first socket event; its connection's events are linked across the recovery.
        assertThat(MiniJson.num(rep, "selftest", "click", "pinned")).isEqualTo(MiniJson.num(rep, "selftest", "click", "position"));
        long conn = MiniJson.num(rep, "selftest", "click", "conns", 0);
        assertThat(MiniJson.num(rep, "selftest", "click", "linked")).isEqualTo(byConn.get(conn));
    }

    /**
     * 10^5 records over eight threads (one with a virtual id beyond 2^53, which JavaScript numbers
     * cannot hold) and two sessions: clocks, socket reads and ready sets on a few connections,
     * scheduler switches and checkpoints (types the agent does not write yet, drawn generically).
     */
    static Map<String, Long> generate(Path log, Map<Long, Long> byConn) throws IOException {
        Map<String, Long> counts = new TreeMap<>();
        long[] threads = {1, 2, 3, 4, 5, 6, 7, 7_000_000_000_000_000_001L};
        long[] seq = new long[threads.length];
        int half = GENERATED * 3 / 5;
        for (int session = 0; session < 2; session++) {
            try (LogWriter w = LogWriter.open(log)) {
                counts.merge("HEADER", 1L, Long::sum);
                int from = session == 0 ? 0 : half;
                int to = session == 0 ? half : GENERATED;
                long last = -1;
                for (int i = from; i < to; i++) {
                    int t = i % threads.length;
                    int type;
                    byte[] payload;
                    if (session == 1 && i == from) {
                        type = RecordTypes.CONTINUES;
                        payload = ("continues the run after position " + (half)).getBytes(StandardCharsets.UTF_8);
                    } else if (i % 25_000 == 24_999) {
                        type = RecordTypes.CHECKPOINT;
                        payload = ("checkpoint " + i).getBytes(StandardCharsets.UTF_8);
                    } else if (i % 97 == 0) {
                        type = RecordTypes.SCHEDULE;
                        payload = le(9).put((byte) 1).putLong(threads[(t + 1) % threads.length]).array();
                    } else if (i % 5 == 0) {
                        byConn.merge(1L + i % 13, 1L, Long::sum);
                        type = RecordTypes.SELECT;
                        payload = le(1 + 4 + 16).put((byte) 34).putInt(1).putLong(1 + i % 13).putInt(10 + i % 13)
                                .putInt(1).array();
                    } else if (i % 5 == 1) {
                        byte[] data = ("GET k" + i + "\n").getBytes(StandardCharsets.UTF_8);
                        byConn.merge(1L + i % 13, 1L, Long::sum);
                        type = RecordTypes.SOCKET_READ;
                        payload = le(1 + 8 + 4 + data.length).put((byte) 32).putLong(1 + i % 13).putInt(data.length)
                                .put(data).array();
                    } else if (i % 500 == 2) {
                        byte[] ip = InetAddress.getLoopbackAddress().getAddress();
                        byConn.merge(0L, 1L, Long::sum);
                        byConn.merge(1L + i % 13, 1L, Long::sum);
                        type = RecordTypes.SOCKET_ACCEPT;
                        payload = le(1 + 8 + 8 + 2 * (1 + 4 + 2)).put((byte) 31).putLong(0).putLong(1 + i % 13)
                                .put((byte) 4).put(ip).putShort((short) 40000).put((byte) 4).put(ip).putShort((short) 7000)
                                .array();
                    } else {
                        type = RecordTypes.CLOCK;
                        payload = le(9).put((byte) 1).putLong(1_000_000_000L + i * 10_000L).array();
                    }
                    last = w.append(type, threads[t], seq[t]++, payload);
                    assertThat(last).isNotNegative();
                    counts.merge(RecordTypes.name(type), 1L, Long::sum);
                }
                w.awaitStable(last);
            }
        }
        return counts;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    Path copy(Path from, String name) throws IOException {
        return Cli.copyLog(from, tmp, name);
    }

    @Test
    void wrongDirectoriesAreUsageErrorsAndDamageIsDrawnAndReported() throws Exception {
        Cli.Result help = Cli.run("diagram", "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("Usage: revenant diagram").contains("--log").contains("#selftest")
                .contains("Exit codes:");

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Path foreign = Files.createDirectories(tmp.resolve("foreign"));
        Files.writeString(foreign.resolve("notes.txt"), "not a log\n");
        Path missing = tmp.resolve("missing");
        Path out = tmp.resolve("x.html");
        Map<Path, String> why = new LinkedHashMap<>();
        why.put(empty, "is not a Revenant log: no *.cq4 segment files (the directory is empty)");
        why.put(foreign, "is not a Revenant log: no *.cq4 segment files; check the log path");
        why.put(missing, "the directory does not exist");
        for (Map.Entry<Path, String> e : why.entrySet()) {
            for (List<String> args : List.of(List.of("--log", e.getKey().toString()),
                    List.of("--log", kv.toString(), "--log", e.getKey().toString()))) {
                List<String> cmd = new ArrayList<>(List.of("diagram", "-o", out.toString()));
                cmd.addAll(args);
                Cli.Result r = Cli.run(cmd.toArray(String[]::new));
                assertThat(r.exit()).as(cmd + ": " + r.err()).isEqualTo(2);
                assertThat(r.out()).isEmpty();
                assertThat(r.err().lines().toList()).as(cmd.toString()).hasSize(1).first().asString()
                        .startsWith("revenant diagram: ").contains(e.getValue());
                assertThat(out).as("no page for a directory that is not a log").doesNotExist();
            }
        }
        Cli.Result nowhere = Cli.run("diagram", "--log", kv.toString(), "-o", tmp.resolve("no/such/dir/x.html").toString());
        assertThat(nowhere.exit()).isEqualTo(2);
        assertThat(nowhere.err()).contains("does not exist");
        Cli.Result noOutput = Cli.run("diagram", "--log", kv.toString());
        assertThat(noOutput.exit()).isEqualTo(2);
        assertThat(noOutput.err()).contains("-o");

        // A flipped byte in the middle of the log: every intact record is drawn, the damage marked, exit 1.
        Path log = copy(kv, "flipped");
        Path seg = LogDamageIT.segments(log).get(0);
        List<Integer> docs = LogDamageIT.dataDocs(seg);
        assertThat(docs.size()).isGreaterThan(2);
        long at = docs.get(docs.size() / 2) + 4 + 36 + 5;
        LogDamageIT.patch(seg, at, new byte[] {(byte) (LogDamageIT.readByte(seg, at) ^ 0x10)});
        Cli.Result v = Cli.run("verify", "--log", log.toString(), "--json");
        assertThat(v.exit()).isEqualTo(1);
        Map<String, Object> vj = MiniJson.object(v.out());
        long intact = MiniJson.num(vj, "records");
        long damagedAt = MiniJson.list(vj, "issues").stream().filter(i -> "damage".equals(MiniJson.at(i, "severity")))
                .mapToLong(i -> MiniJson.num(i, "position")).findFirst().orElseThrow();

        Path page = tmp.resolve("flipped.html");
        Cli.Result r = Cli.run("diagram", "--log", log.toString(), "-o", page.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("revenant diagram: " + log + " is damaged: damage at position " + damagedAt)
                .contains(seg.getFileName().toString()).contains("drew its " + intact + " intact records");
        Map<String, Object> s = MiniJson.object(r.out());
        assertThat(MiniJson.num(s, "totalEvents")).isEqualTo(intact);
        assertThat(MiniJson.at(s, "logs", 0, "sound")).isEqualTo(false);
        Chromium.Page p = Chromium.open(page, null, tmp, 120);
        Map<String, Object> rep = p.report();
        assertThat(MiniJson.list(rep, "consoleErrors")).isEmpty();
        assertThat(rep.get("rendered")).isEqualTo(true);
        assertThat(MiniJson.num(rep, "totalEvents")).isEqualTo(intact);
        assertThat(MiniJson.num(rep, "damage", 0, "position")).isEqualTo(damagedAt);
        assertThat(MiniJson.at(rep, "damage", 0, "text").toString()).contains("damage at position " + damagedAt);
    }
}
