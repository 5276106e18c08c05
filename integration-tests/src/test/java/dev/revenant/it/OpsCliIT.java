package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator commands ({@code tail}, {@code stats}, {@code export}, {@code diff} and the new
 * {@code inspect} options) run through the real CLI against logs the demo KV server wrote under
 * the agent: one cut by kill -9, a copy with a flipped byte, an empty directory and a directory
 * that is not a log. Exit codes, the one-line errors, and every {@code --json} output parsed.
 */
class OpsCliIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");
    /** What each client sends (conn 1, then conn 2); every SET with a TTL makes the server read the clock. */
    static final List<String> CONN1 = List.of("SET a hello 60000", "GET a", "INCR n", "PING");
    static final List<String> CONN2 = List.of("SET b world", "GET b", "GET a", "INCR n");

    @TempDir
    static Path shared;
    /** The KV server's log, cut by kill -9 after both clients had their answers. */
    static Path crashed;
    static int port;

    @TempDir
    Path tmp;

    @BeforeAll
    static void recordAndKill() throws Exception {
        crashed = shared.resolve("crashed");
        Files.createDirectories(crashed);
        KvRecoveryIT.Server s = KvRecoveryIT.record(crashed, ENV, "pessimistic");
        port = s.port();
        talk(port, CONN1);
        talk(port, CONN2);
        KvRecoveryIT.kill(s);
    }

    static void talk(int port, List<String> lines) throws IOException {
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            for (String l : lines) {
                assertThat(c.call(l)).isNotBlank();
            }
        }
    }

    static byte[] sent(List<String> lines) {
        return (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    static Cli.Result cli(String... args) throws Exception {
        return Cli.run(args);
    }

    /** verify --json of a log: the reference numbers the other commands are checked against. */
    static Map<String, Object> verify(Path log) throws Exception {
        Cli.Result v = cli("verify", "--log", log.toString(), "--json");
        return MiniJson.object(v.out());
    }

    Path copy(Path from, String name) throws IOException {
        return Cli.copyLog(from, tmp, name);
    }

    @Test
    void everyCommandHasHelp() throws Exception {
        for (String c : List.of("tail", "stats", "export", "diff", "inspect")) {
            Cli.Result r = cli(c, "--help");
            assertThat(r.exit()).as(c).isZero();
            assertThat(r.out()).as(c).contains("Usage: revenant " + c).contains("Exit codes:");
        }
    }

    @Test
    void inspectFiltersByConnectionAndEpochAndShowsHex() throws Exception {
        Cli.Result r = cli("inspect", "--log", crashed.toString(), "--conn", "1");
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> records = recordLines(r.out());
        assertThat(records).isNotEmpty()
                .allMatch(l -> l.matches(".*(conn 1\\b|conn 1 0x|on conn 1\\b).*"), "names conn 1")
                .noneMatch(l -> l.contains("read conn 2"))
                .anyMatch(l -> l.contains("accept on conn 0: conn 1 from"))
                .anyMatch(l -> l.contains("read conn 1: 18 bytes \"SET a hello 60000\\n\""));
        assertThat(r.out()).as("the session line says its records").containsPattern(
                "epoch 0  started \\S+  \\d+ records, positions 0\\.\\.\\d+");

        Cli.Result hex = cli("inspect", "--log", crashed.toString(), "--conn", "2", "--type", "SOCKET_READ", "--hex");
        assertThat(recordLines(hex.out())).first().asString()
                .endsWith("read conn 2: 12 bytes " + hex("SET b world\n"));

        Cli.Result j = cli("inspect", "--log", crashed.toString(), "--json", "--epoch", "0", "--conn", "0");
        assertThat(j.exit()).isZero();
        Map<String, Object> o = MiniJson.object(j.out());
        assertThat(MiniJson.num(o, "sessions", 0, "records")).isEqualTo(MiniJson.num(o, "records"));
        List<Object> list = MiniJson.list(o, "recordList");
        assertThat(list).isNotEmpty().allMatch(x -> MiniJson.num(x, "epoch") == 0)
                .anyMatch(x -> MiniJson.at(x, "summary").toString().startsWith("bind conn 0 to /127.0.0.1:" + port));
        Cli.Result none = cli("inspect", "--log", crashed.toString(), "--epoch", "1", "--no-records");
        assertThat(none.exit()).isZero();
    }

    @Test
    void tailPrintsTheLastRecords() throws Exception {
        Map<String, Object> v = verify(crashed);
        long last = MiniJson.num(v, "lastPosition");
        Cli.Result r = cli("tail", "--log", crashed.toString(), "-n", "5", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(5);
        for (int i = 0; i < 5; i++) {
            Map<String, Object> rec = MiniJson.object(lines.get(i));
            assertThat(MiniJson.num(rec, "position")).isEqualTo(last - 4 + i);
        }
        Cli.Result text = cli("tail", "--log", crashed.toString());
        assertThat(text.out().lines().toList()).hasSize((int) Math.min(20, last + 1)).last().asString()
                .matches("\\s+" + last + "\\s+\\S+\\s+epoch=0 .*");

        Cli.Result reads = cli("tail", "--log", crashed.toString(), "--type", "SOCKET_READ", "-n", "2");
        List<String> rl = reads.out().lines().toList();
        assertThat(rl).hasSize(2).allMatch(l -> l.contains("SOCKET_READ"));

        Cli.Result from = cli("tail", "--log", crashed.toString(), "--from", "3");
        assertThat(from.out().lines().count()).isEqualTo(last - 3 + 1);
        assertThat(from.out().lines().findFirst().orElseThrow()).matches("\\s+3\\s+.*");

        Cli.Result both = cli("tail", "--log", crashed.toString(), "--from", "3", "-n", "2");
        assertThat(both.exit()).isEqualTo(2);
        assertThat(both.err()).contains("-n and --from");
    }

    @Test
    void statsSumsUpTheLog() throws Exception {
        Map<String, Object> v = verify(crashed);
        Cli.Result r = cli("stats", "--log", crashed.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> o = MiniJson.object(r.out());
        long records = MiniJson.num(v, "records");
        assertThat(MiniJson.num(o, "records")).isEqualTo(records);
        assertThat(MiniJson.list(o, "sessions")).hasSize(1);
        assertThat(MiniJson.num(o, "sessions", 0, "records")).isEqualTo(records);
        assertThat(MiniJson.at(o, "sessions", 0, "kind")).isEqualTo("fresh");
        assertThat(MiniJson.num(o, "lag")).isEqualTo(MiniJson.num(v, "lastPosition") - MiniJson.num(v, "stableWatermark"));
        long allocated = MiniJson.num(o, "disk", "segmentAllocatedBytes");
        assertThat(allocated).as("allocated, not apparent").isPositive()
                .isLessThan(MiniJson.num(o, "disk", "segmentApparentBytes"));
        long byType = 0;
        for (Object t : MiniJson.list(o, "types")) {
            byType += MiniJson.num(t, "records");
            assertThat(MiniJson.num(t, "recordBytes")).isGreaterThan(MiniJson.num(t, "payloadBytes"));
        }
        assertThat(byType).isEqualTo(records);
        long bucketed = 0;
        for (Object b : MiniJson.list(o, "rate", "buckets")) {
            bucketed += MiniJson.num(b, "records");
        }
        assertThat(bucketed).isEqualTo(MiniJson.num(o, "rate", "timedRecords")).isEqualTo(records);
        assertThat(MiniJson.at(o, "rate", "timeSource").toString()).containsPattern("[1-9][0-9]* wall-clock");

        assertThat(MiniJson.list(o, "servers")).hasSize(1);
        assertThat(MiniJson.at(o, "servers", 0, "address")).isEqualTo("127.0.0.1:" + port);
        assertThat(MiniJson.num(o, "connections", "accepted")).isEqualTo(2);
        Map<Long, Long> bytesRead = new HashMap<>();
        for (Object c : MiniJson.list(o, "connections", "list")) {
            bytesRead.put(MiniJson.num(c, "conn"), MiniJson.num(c, "bytesRead"));
            assertThat(MiniJson.at(c, "from").toString()).startsWith("127.0.0.1:");
        }
        assertThat(bytesRead).containsEntry(1L, (long) sent(CONN1).length).containsEntry(2L, (long) sent(CONN2).length);

        Cli.Result text = cli("stats", "--log", crashed.toString());
        assertThat(text.exit()).isZero();
        assertThat(text.out()).contains("sessions:").contains("records by type:").contains("records per second")
                .contains("allocated").contains("connections accepted: 2").containsPattern("stable watermark: \\d+");
    }

    @Test
    void exportWritesEveryRecordDecoded() throws Exception {
        long records = MiniJson.num(verify(crashed), "records");
        Cli.Result j = cli("export", "--log", crashed.toString(), "--format", "json");
        assertThat(j.exit()).as(j.err()).isZero();
        List<String> lines = j.out().lines().toList();
        assertThat(lines).hasSize((int) records);
        Map<Long, ByteArrayOutputStream> read = new HashMap<>();
        long position = 0;
        for (String l : lines) {
            Map<String, Object> rec = MiniJson.object(l);
            assertThat(MiniJson.num(rec, "position")).isEqualTo(position++);
            if (rec.get("type").equals("SOCKET_READ") && MiniJson.num(rec, "count") > 0) {
                assertThat(rec.get("kind")).isEqualTo("socket read");
                byte[] data = Base64.getDecoder().decode((String) rec.get("base64"));
                assertThat(data).hasSize((int) MiniJson.num(rec, "count"));
                read.computeIfAbsent(MiniJson.num(rec, "conn"), k -> new ByteArrayOutputStream()).writeBytes(data);
            }
            if (rec.get("type").equals("CLOCK")) {
                assertThat(rec).containsKey("value");
            }
        }
        assertThat(read.get(1L).toByteArray()).isEqualTo(sent(CONN1));
        assertThat(read.get(2L).toByteArray()).isEqualTo(sent(CONN2));

        Path file = tmp.resolve("export.csv");
        Cli.Result c = cli("export", "--log", crashed.toString(), "--format", "csv", "-o", file.toString());
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).isEmpty();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        List<List<String>> rows = csv(Files.readString(file));
        assertThat(rows).hasSize((int) records + 1);
        List<String> header = rows.get(0);
        assertThat(header).startsWith("position", "type", "epoch", "thread", "thread_seq");
        int type = header.indexOf("type");
        int conn = header.indexOf("conn");
        int b64 = header.indexOf("base64");
        int text = header.indexOf("text");
        ByteArrayOutputStream conn1 = new ByteArrayOutputStream();
        for (List<String> row : rows.subList(1, rows.size())) {
            assertThat(row).hasSize(header.size());
            if (row.get(type).equals("SOCKET_READ") && row.get(conn).equals("1") && !row.get(b64).isEmpty()) {
                conn1.writeBytes(Base64.getDecoder().decode(row.get(b64)));
                assertThat(row.get(text)).endsWith("\\n");
            }
        }
        assertThat(conn1.toByteArray()).isEqualTo(sent(CONN1));
    }

    @Test
    void diffFindsAgreementAndTheFirstDivergence() throws Exception {
        Cli.Result same = cli("diff", "--log", crashed.toString(), "--log", copy(crashed, "copy").toString(), "--json");
        assertThat(same.exit()).as(same.out() + same.err()).isZero();
        Map<String, Object> o = MiniJson.object(same.out());
        assertThat(o.get("same")).isEqualTo(true);
        assertThat(MiniJson.num(o, "compared")).isEqualTo(MiniJson.num(o, "determinantsA")).isPositive();

        // An older state of the same log (before a recovery and more requests) agrees up to where it ends.
        Path grown = copy(crashed, "grown");
        KvRecoveryIT.Server s = KvRecoveryIT.recover(grown, ENV, port);
        try {
            talk(port, List.of("GET a", "SET c 3"));
        } finally {
            KvRecoveryIT.kill(s);
        }
        Cli.Result prefix = cli("diff", "--log", crashed.toString(), "--log", grown.toString());
        assertThat(prefix.exit()).as(prefix.out() + prefix.err()).isZero();
        assertThat(prefix.out()).contains("logs agree").contains("B has").contains("more on thread 1");

        // Another recording of the same server: it draws another random seed first of all.
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        KvRecoveryIT.Server s2 = KvRecoveryIT.record(other, ENV, "pessimistic");
        try {
            talk(s2.port(), List.of("SET a bye"));
        } finally {
            KvRecoveryIT.kill(s2);
        }
        Cli.Result differ = cli("diff", "--log", crashed.toString(), "--log", other.toString(), "--json");
        assertThat(differ.exit()).as(differ.out() + differ.err()).isEqualTo(1);
        Map<String, Object> d = MiniJson.object(differ.out());
        assertThat(d.get("same")).isEqualTo(false);
        assertThat(MiniJson.num(d, "divergence", "thread")).isEqualTo(1);
        // #0 of thread 1 is the serial scheduler's opening mark (main starts with the run token),
        // the same in both; then new Random()'s uniquifier (a JDK counter, equal in both runs) and
        // the clock read it is mixed with, which differs.
        long index = MiniJson.num(d, "divergence", "index");
        assertThat(index).isPositive();
        assertThat(MiniJson.at(d, "divergence", "recordA", "type")).isEqualTo("CLOCK");
        assertThat(MiniJson.at(d, "divergence", "recordB", "type")).isEqualTo("CLOCK");
        Cli.Result differText = cli("diff", "--log", crashed.toString(), "--log", other.toString());
        assertThat(differText.out()).contains("logs differ at thread 1, determinant #" + index).contains("  A ")
                .contains("  B ").contains("System.nanoTime");

        Cli.Result one = cli("diff", "--log", crashed.toString());
        assertThat(one.exit()).isEqualTo(2);
        assertThat(one.err()).contains("two logs");
    }

    @Test
    void aFlippedByteIsDamageEveryCommandLocates() throws Exception {
        Path log = copy(crashed, "flipped");
        Path seg = LogDamageIT.segments(log).get(0);
        List<Integer> docs = LogDamageIT.dataDocs(seg);
        assertThat(docs.size()).as("documents in the segment").isGreaterThan(2);
        long at = docs.get(docs.size() / 2) + 4 + 36 + 5; // inside the first record's payload of a middle document
        LogDamageIT.patch(seg, at, new byte[] {(byte) (LogDamageIT.readByte(seg, at) ^ 0x10)});
        Cli.Result v = cli("verify", "--log", log.toString());
        assertThat(v.exit()).as(v.out()).isEqualTo(1);
        String where = v.out().lines().filter(l -> l.contains("damage at position")).findFirst().orElseThrow()
                .replaceAll(".*(damage at position \\d+).*", "$1");

        Cli.Result tail = cli("tail", "--log", log.toString(), "-n", "3");
        assertThat(tail.exit()).isEqualTo(1);
        assertThat(tail.err()).contains("revenant tail: the log is damaged: " + where).contains(seg.getFileName().toString());
        assertThat(tail.out().lines().count()).isEqualTo(3);

        Cli.Result follow = cli("tail", "--log", log.toString(), "-f", "--from", "0");
        assertThat(follow.exit()).as("tail -f stops at damage").isEqualTo(1);
        assertThat(follow.err()).contains("revenant tail: the log is damaged").contains("position");

        Cli.Result stats = cli("stats", "--log", log.toString(), "--json");
        assertThat(stats.exit()).isEqualTo(1);
        Map<String, Object> so = MiniJson.object(stats.out());
        assertThat(so.get("sound")).isEqualTo(false);
        assertThat(MiniJson.at(so, "issues", 0, "severity")).isEqualTo("damage");

        Cli.Result export = cli("export", "--log", log.toString(), "--format", "json");
        assertThat(export.exit()).isEqualTo(1);
        assertThat(export.err()).contains("revenant export: the log is damaged: " + where);
        export.out().lines().forEach(MiniJson::object);

        Cli.Result inspect = cli("inspect", "--log", log.toString(), "--no-records");
        assertThat(inspect.exit()).isEqualTo(1);
        assertThat(inspect.out()).contains(where);

        Cli.Result diff = cli("diff", "--log", log.toString(), "--log", crashed.toString());
        assertThat(diff.exit()).isEqualTo(1);
        assertThat(diff.err()).contains("revenant diff: A is damaged: " + where);
    }

    @Test
    void statsPutsATornTailOnTheSessionThatLeftIt() throws Exception {
        // A writer killed inside an unfinished document (as LogDamageIT makes one), then a second session.
        Path log = tmp.resolve("torn");
        Files.createDirectories(log);
        try (JavaProcess w = JavaProcess.start(Map.of(), StressWriter.class, log.toString(), "2", "stallAt=2000")) {
            w.await(l -> l.startsWith("READY"), 60);
            w.awaitErr(l -> l.contains("stalled inside an unfinished document"), 60);
            w.kill9();
        }
        Map<String, Object> v = verify(log);
        long dropped = MiniJson.num(v, "droppedBytes");
        assertThat(dropped).isPositive();
        Cli.Result r = cli("stats", "--log", log.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> o = MiniJson.object(r.out());
        assertThat(MiniJson.list(o, "sessions")).hasSize(1);
        assertThat(MiniJson.num(o, "sessions", 0, "tornBytes")).isEqualTo(dropped);
        Cli.Result text = cli("stats", "--log", log.toString());
        assertThat(text.out()).containsPattern("\\s" + dropped + "\\n");
    }

    @Test
    void emptyAndForeignDirectoriesAreUsageErrors() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Path foreign = Files.createDirectories(tmp.resolve("foreign"));
        Files.writeString(foreign.resolve("notes.txt"), "not a log\n");
        for (Path dir : List.of(empty, foreign)) {
            String d = dir.toString();
            List<String[]> commands = List.of(new String[] {"tail", "--log", d}, new String[] {"tail", "-f", "--log", d},
                    new String[] {"stats", "--log", d}, new String[] {"stats", "--json", "--log", d},
                    new String[] {"export", "--format", "csv", "--log", d},
                    new String[] {"export", "--format", "json", "-o", tmp.resolve("x.json").toString(), "--log", d},
                    new String[] {"diff", "--log", d, "--log", crashed.toString()},
                    new String[] {"diff", "--log", crashed.toString(), "--log", d},
                    new String[] {"inspect", "--conn", "1", "--log", d});
            for (String[] c : commands) {
                Cli.Result r = cli(c);
                String what = String.join(" ", c);
                assertThat(r.exit()).as(what + ": " + r.err()).isEqualTo(2);
                assertThat(r.out()).as(what).isEmpty();
                assertThat(r.err().lines().toList()).as(what).hasSize(1).first().asString()
                        .startsWith("revenant " + c[0] + ": ").contains("is not a Revenant log")
                        .contains(dir == empty ? "(the directory is empty)" : "no *.cq4 segment files");
            }
            assertThat(tmp.resolve("x.json")).as("no output file for a directory that is not a log").doesNotExist();
        }
    }

    @Test
    void tailFollowsALiveServerAcrossARecovery() throws Exception {
        Path log = tmp.resolve("live");
        Files.createDirectories(log);
        KvRecoveryIT.Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "tail",
                "-f", "-n", "50", "--log", log.toString()));
        KvRecoveryIT.Server recovered = null;
        try (JavaProcess tail = JavaProcess.start(ENV, cmd)) {
            tail.await(l -> l.contains("bind conn 0 to /127.0.0.1:" + s.port()), 60);
            talk(s.port(), List.of("SET live 1"));
            tail.await(l -> l.contains("read conn 1: 11 bytes \"SET live 1\\n\""), 60);
            KvRecoveryIT.kill(s);

            recovered = KvRecoveryIT.recover(log, ENV, s.port());
            tail.await(l -> l.matches("\\s+\\d+\\s+HEADER\\s+epoch=1 .*"), 60);
            talk(s.port(), List.of("GET live"));
            String line = tail.await(l -> l.contains("read conn 2: 9 bytes \"GET live\\n\""), 60);
            assertThat(line).contains("epoch=1");
            assertThat(tail.process.isAlive()).as("tail -f keeps following").isTrue();
            // Each record once, in order.
            List<Long> positions = tail.lines.stream().map(l -> Long.parseLong(l.trim().split("\\s+")[0])).toList();
            for (int i = 1; i < positions.size(); i++) {
                assertThat(positions.get(i)).isEqualTo(positions.get(i - 1) + 1);
            }
        } finally {
            if (recovered != null) {
                KvRecoveryIT.kill(recovered);
            }
        }
    }

    static List<String> recordLines(String out) {
        List<String> l = new ArrayList<>();
        boolean in = false;
        for (String line : out.lines().toList()) {
            if (line.equals("records:")) {
                in = true;
            } else if (in) {
                l.add(line);
            }
        }
        return l;
    }

    static String hex(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            sb.append(String.format("%02x", b));
        }
        return sb.toString();
    }

    /** RFC 4180 rows: quoted fields may hold commas, doubled quotes and line breaks. */
    static List<List<String>> csv(String text) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    f.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    f.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                row.add(f.toString());
                f.setLength(0);
            } else if (c == '\n') {
                row.add(f.toString());
                f.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
            } else {
                f.append(c);
            }
        }
        if (f.length() > 0 || !row.isEmpty()) {
            row.add(f.toString());
            rows.add(row);
        }
        return rows;
    }
}
