package dev.revenant.log.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.revenant.log.LogDirectory;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

    private static final String HMAC_MESSAGE = "failed its integrity check (HMAC mismatch): it was"
            + " damaged or written with another key; it will not be used";

    @TempDir
    Path tmp;

    Path logDir;

    @BeforeEach
    void setUp() {
        assumeTrue(LogDirectory.isPosix(tmp), "needs a POSIX file system");
        logDir = tmp.resolve("log");
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static String modeOf(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void flipByte(Path file, long offset) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            ch.read(one, offset);
            one.put(0, (byte) (one.get(0) ^ 0x01)).rewind();
            ch.write(one, offset);
        }
    }

    private static void truncate(Path file, long size) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    @Test
    void roundTripKeepsBodyAndHeader() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        byte[] body = randomBytes(10_000, 1);
        long before = System.currentTimeMillis();

        Checkpoint c = store.write(3, 0x1234_5678_9ABCL, body);

        assertThat(c.file()).isEqualTo(
                logDir.resolve("checkpoints/checkpoint-0000123456789abc-3.ckpt").toAbsolutePath());
        assertThat(c.epoch()).isEqualTo(3);
        assertThat(c.coveredPosition()).isEqualTo(0x1234_5678_9ABCL);
        assertThat(c.bodyLength()).isEqualTo(body.length);
        assertThat(c.createdAtMillis()).isBetween(before, System.currentTimeMillis());
        assertThat(Files.size(c.file())).isEqualTo(34 + body.length + 32);

        assertThat(store.read(c)).isEqualTo(body);
        try (InputStream in = store.open(c)) {
            assertThat(in.readAllBytes()).isEqualTo(body);
        }
        assertThat(store.list()).containsExactly(c);
        assertThat(store.problems()).isEmpty();

        // The header is laid out as documented.
        ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(c.file()), 0, 34);
        byte[] magic = new byte[4];
        header.get(magic);
        assertThat(new String(magic, StandardCharsets.US_ASCII)).isEqualTo("RVCK");
        assertThat(header.getShort()).isEqualTo((short) 1);
        assertThat(header.getInt()).isEqualTo(3);
        assertThat(header.getLong()).isEqualTo(0x1234_5678_9ABCL);
        assertThat(header.getLong()).isEqualTo(body.length);
        assertThat(header.getLong()).isEqualTo(c.createdAtMillis());
    }

    @Test
    void roundTripOfEmptyAndStreamedBodies() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        byte[] big = randomBytes(300_000, 2);

        Checkpoint empty = store.write(0, 0, new byte[0]);
        Checkpoint fromStream = store.write(0, 1, new ByteArrayInputStream(big));
        Checkpoint fromWriter = store.write(0, 2, out -> {
            for (int i = 0; i < big.length; i += 7) {
                out.write(big, i, Math.min(7, big.length - i)); // many small writes
            }
        });

        assertThat(store.read(empty)).isEmpty();
        assertThat(store.read(fromStream)).isEqualTo(big);
        assertThat(store.read(fromWriter)).isEqualTo(big);
        try (InputStream in = store.open(fromWriter)) {
            assertThat(in.read()).isEqualTo(big[0] & 0xFF);
            assertThat(in.readAllBytes()).hasSize(big.length - 1);
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(store.list()).containsExactly(empty, fromStream, fromWriter);
    }

    @Test
    void keyFileCheckpointsAndDirectoryArePrivateAndNoTempFilesRemain() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        Checkpoint c = store.write(1, 42, randomBytes(100, 3));

        Path key = logDir.resolve("checkpoint.key");
        assertThat(store.keyFile()).isEqualTo(key.toAbsolutePath());
        assertThat(Files.size(key)).isEqualTo(32);
        assertThat(modeOf(key)).isEqualTo("rw-------");
        assertThat(modeOf(logDir)).isEqualTo("rwx------");
        assertThat(modeOf(logDir.resolve("checkpoints"))).isEqualTo("rwx------");
        assertThat(modeOf(c.file())).isEqualTo("rw-------");
        assertThat(names(logDir)).containsExactly("checkpoint.key", "checkpoints");
        assertThat(names(logDir.resolve("checkpoints")))
                .containsExactly("checkpoint-000000000000002a-1.ckpt");
    }

    @Test
    void reopeningKeepsTheKey() throws Exception {
        Checkpoint c = CheckpointStore.open(logDir).write(0, 7, randomBytes(50, 4));
        byte[] key = Files.readAllBytes(logDir.resolve("checkpoint.key"));

        CheckpointStore again = CheckpointStore.open(logDir);

        assertThat(Files.readAllBytes(logDir.resolve("checkpoint.key"))).isEqualTo(key);
        assertThat(again.read(c)).isEqualTo(randomBytes(50, 4));
    }

    @Test
    void keysOfDifferentLogsDiffer() throws Exception {
        CheckpointStore.open(tmp.resolve("a"));
        CheckpointStore.open(tmp.resolve("b"));

        assertThat(Files.readAllBytes(tmp.resolve("a/checkpoint.key")))
                .isNotEqualTo(Files.readAllBytes(tmp.resolve("b/checkpoint.key")));
    }

    @Test
    void keyFileCanLiveElsewhere() throws Exception {
        Path key = tmp.resolve("secrets/revenant.key");

        CheckpointStore store = CheckpointStore.open(logDir, key);

        assertThat(store.keyFile()).isEqualTo(key.toAbsolutePath());
        assertThat(Files.size(key)).isEqualTo(32);
        assertThat(modeOf(key)).isEqualTo("rw-------");
        assertThat(logDir.resolve("checkpoint.key")).doesNotExist();
    }

    @Test
    void refusesAKeyFileOfTheWrongSize() throws Exception {
        Files.createDirectories(logDir);
        Path key = Files.write(logDir.resolve("checkpoint.key"), new byte[16]);

        assertThatThrownBy(() -> CheckpointStore.open(logDir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("checkpoint key " + key.toAbsolutePath() + " has 16 bytes"
                        + " instead of 32")
                .hasMessageNotContaining("\n");
        assertThat(Files.size(key)).as("the bad key is not overwritten").isEqualTo(16);
    }

    @Test
    void refusesAKeyPathThatIsADirectory() throws Exception {
        Path key = Files.createDirectories(tmp.resolve("key-is-a-dir"));

        assertThatThrownBy(() -> CheckpointStore.open(logDir, key))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("is not a regular file");
    }

    @Test
    void tightensALooseExistingKeyFile() throws Exception {
        Files.createDirectories(logDir);
        Path key = Files.write(logDir.resolve("checkpoint.key"), randomBytes(32, 5));
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));

        CheckpointStore.open(logDir);

        assertThat(modeOf(key)).isEqualTo("rw-------");
    }

    @Test
    void anyFlippedByteIsCaughtBeforeTheBodyIsReleased() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        byte[] body = randomBytes(1000, 6);
        Checkpoint c = store.write(2, 500, body);
        byte[] pristine = Files.readAllBytes(c.file());
        long size = pristine.length;
        long[] offsets = {
            0, 3, // magic
            4, 5, // version
            6, 9, // epoch
            10, 17, // position
            18, 25, // body length
            26, 33, // created-at
            34, 35, 34 + 500, size - 33, // body
            size - 32, size - 16, size - 1 // HMAC
        };

        for (long offset : offsets) {
            flipByte(c.file(), offset);

            assertThatThrownBy(() -> store.read(c))
                    .as("flipped byte at offset %d", offset)
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageStartingWith("checkpoint " + c.file() + " " + HMAC_MESSAGE);
            assertThatThrownBy(() -> store.open(c))
                    .as("flipped byte at offset %d", offset)
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(HMAC_MESSAGE);

            Files.write(c.file(), pristine);
            assertThat(store.read(c)).isEqualTo(body);
        }
    }

    @Test
    void truncatedFilesAreRefusedClearly() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        Checkpoint c = store.write(0, 1, randomBytes(1000, 7));

        truncate(c.file(), 600);
        assertThatThrownBy(() -> store.read(c))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(HMAC_MESSAGE)
                .hasMessageContaining("is truncated: 600 bytes, but its header announces 1066");
        assertThat(store.list()).isEmpty();
        assertThat(store.problems()).singleElement().asString()
                .contains(c.file().toString(), "is truncated: 600 bytes");

        truncate(c.file(), 20);
        assertThatThrownBy(() -> store.read(c))
                .isInstanceOf(CheckpointException.class)
                .hasMessage("checkpoint " + c.file() + " is truncated: 20 bytes, fewer than the"
                        + " 66 of an empty checkpoint; it will not be used");

        truncate(c.file(), 0);
        assertThatThrownBy(() -> store.open(c))
                .hasMessageContaining("is truncated: 0 bytes");
    }

    @Test
    void checkpointFromAnotherKeyIsRefused() throws Exception {
        CheckpointStore withKeyA = CheckpointStore.open(logDir);
        Checkpoint c = withKeyA.write(0, 9, randomBytes(200, 8));

        CheckpointStore withKeyB = CheckpointStore.open(logDir, tmp.resolve("other.key"));

        assertThat(withKeyB.list()).containsExactly(c); // the header alone looks fine
        assertThatThrownBy(() -> withKeyB.read(c))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(HMAC_MESSAGE);
        assertThat(withKeyB.newestValid()).isEmpty();
        assertThat(withKeyB.problems()).singleElement().asString().contains(HMAC_MESSAGE);
    }

    @Test
    void listIsSortedByPositionAndReportsUnparsableFiles() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        Checkpoint c300 = store.write(1, 300, new byte[] {3});
        Checkpoint c100 = store.write(0, 100, new byte[] {1});
        Checkpoint c200 = store.write(0, 200, new byte[] {2});
        Path dir = store.directory();
        Files.writeString(dir.resolve("checkpoint-garbage.ckpt"), "hello");
        Files.write(dir.resolve("checkpoint-0000000000000999-0.ckpt"), new byte[100]);
        Files.writeString(dir.resolve(".checkpoint-123.tmp"), "in progress"); // ignored
        Files.writeString(dir.resolve("README"), "ignored");

        assertThat(store.list()).containsExactly(c100, c200, c300);
        assertThat(store.problems()).hasSize(2).anySatisfy(p -> assertThat(p)
                .contains("checkpoint-garbage.ckpt", "is truncated: 5 bytes"))
                .anySatisfy(p -> assertThat(p)
                        .contains("checkpoint-0000000000000999-0.ckpt",
                                "is not a Revenant checkpoint"));
    }

    @Test
    void newestValidSkipsATamperedNewestCheckpoint() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        store.write(0, 100, randomBytes(10, 9));
        Checkpoint c200 = store.write(0, 200, randomBytes(10, 10));
        Checkpoint c300 = store.write(1, 300, randomBytes(10, 11));

        assertThat(store.newestValid()).contains(c300);
        assertThat(store.problems()).isEmpty();

        flipByte(c300.file(), 40);

        assertThat(store.newestValid()).contains(c200);
        assertThat(store.problems()).singleElement().asString()
                .contains(c300.file().toString(), HMAC_MESSAGE);
    }

    @Test
    void newestValidOfAnEmptyStoreIsEmpty() throws Exception {
        assertThat(CheckpointStore.open(logDir).newestValid()).isEmpty();
    }

    @Test
    void retainKeepsTheNewestValidAndDeletesWhatTheySupersede() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        Checkpoint[] c = new Checkpoint[6];
        for (int i = 1; i <= 5; i++) {
            c[i] = store.write(0, i * 10L, randomBytes(20, i));
        }
        flipByte(c[5].file(), 50); // the newest is damaged
        flipByte(c[1].file(), 50); // an old damaged one is superseded anyway

        store.retain(2);

        assertThat(store.problems()).singleElement().asString()
                .contains(c[5].file().toString(), HMAC_MESSAGE);
        assertThat(store.list()).containsExactly(c[3], c[4], c[5]);
        assertThat(store.newestValid()).contains(c[4]);

        store.retain(10); // fewer valid ones than asked for: nothing goes
        assertThat(store.list()).containsExactly(c[3], c[4], c[5]);

        store.retain(1);
        assertThat(store.list()).containsExactly(c[4], c[5]);

        store.retain(0);
        assertThat(store.list()).isEmpty();
    }

    @Test
    void rewritingTheSamePositionAndEpochReplacesTheCheckpoint() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        store.write(0, 5, new byte[] {1});
        Checkpoint second = store.write(0, 5, new byte[] {2, 2});

        assertThat(store.list()).containsExactly(second);
        assertThat(store.read(second)).containsExactly(2, 2);
    }

    @Test
    void aFailingBodyWriterLeavesNoFileBehind() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);

        assertThatThrownBy(() -> store.write(0, 1, out -> {
            out.write(new byte[100]);
            throw new java.io.IOException("snapshot failed");
        })).hasMessage("snapshot failed");

        assertThat(names(store.directory())).isEmpty();
    }

    @Test
    void rejectsNegativeEpochAndPosition() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);

        assertThatThrownBy(() -> store.write(-1, 0, new byte[0]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.write(0, -1, new byte[0]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readRefusesACheckpointReplacedSinceItWasListed() throws Exception {
        CheckpointStore store = CheckpointStore.open(logDir);
        Checkpoint first = store.write(0, 5, new byte[] {1});
        store.write(0, 5, new byte[] {2, 2});

        assertThatThrownBy(() -> store.read(first))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("no longer matches");
    }
}
