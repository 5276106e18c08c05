package dev.revenant.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reservation by writing: real blocks behind the range, and nothing the file held is changed. */
class SegmentSpaceTest {
    @TempDir
    Path tmp;

    @org.junit.jupiter.api.BeforeEach
    void posixNotBuiltYet() {
        // as at start-up; the layer itself, once built, stays built (it is per JVM)
        SegmentSpace.posixReadyForTest(false);
    }

    @org.junit.jupiter.api.AfterEach
    void posixAsItIs() {
        SegmentSpace.posixReadyForTest(false);
    }

    /** Blocks of 512 bytes the file system has given the file (GNU stat's %b). */
    static long blocks(Path f) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b", f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertThat(p.waitFor()).as("stat: " + out).isZero();
        return Long.parseLong(out);
    }

    static void assertAllZeros(Path f) throws IOException {
        byte[] all = Files.readAllBytes(f);
        int firstNonZero = java.util.stream.IntStream.range(0, all.length).filter(i -> all[i] != 0).findFirst().orElse(-1);
        assertThat(firstNonZero).as("first byte that is not zero in " + f).isEqualTo(-1);
    }

    @Test
    void writtenReservationCreatesZerosWithBlocksAndGrowsInSteps() throws Exception {
        Path f = tmp.resolve("seg.precreated");
        try (SegmentSpace s = SegmentSpace.create(f, "seg", 1 << 20, 2 << 20, SegmentSpace.WRITTEN)) {
            assertThat(s).isNotNull();
            assertThat(s.reservedTo()).isEqualTo(1 << 20);
            assertThat(s.zeroedTo()).isEqualTo(1 << 20);
            assertThat(Files.size(f)).isEqualTo(1 << 20);
            assertThat(blocks(f) * 512).isGreaterThanOrEqualTo(1 << 20);
            s.ensure((1 << 20) + 1);
            // a written reservation grows by its own (smaller) step, so bursts of dirty pages stay short
            assertThat(s.reservedTo()).isEqualTo((1 << 20) + (256 << 10));
            assertThat(blocks(f) * 512).isGreaterThanOrEqualTo(s.reservedTo());
            assertThat(Files.size(f)).isEqualTo(s.reservedTo());
        }
        assertAllZeros(f);
    }

    @Test
    void writtenReservationOfAFileWithDataKeepsEveryByte() throws Exception {
        // data, then a hole, then data ending in a partial page: what Chronicle's metadata file can look like
        Path f = tmp.resolve("metadata.cq4t");
        byte[] head = new byte[5000];
        byte[] tail = new byte[3000];
        Random r = new Random(7);
        r.nextBytes(head);
        r.nextBytes(tail);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(head), 0);
            ch.write(ByteBuffer.wrap(tail), 70_000);
        }
        byte[] before = Files.readAllBytes(f);
        long blocksBefore = blocks(f);
        try (SegmentSpace s = SegmentSpace.open(f, 0, 4096, SegmentSpace.WRITTEN)) {
            s.ensure(Files.size(f));
            assertThat(s.reservedTo()).isGreaterThanOrEqualTo(Files.size(f));
        }
        byte[] after = Files.readAllBytes(f);
        assertThat(after.length).isEqualTo(before.length);
        int firstDiff = java.util.stream.IntStream.range(0, before.length).filter(i -> after[i] != before[i]).findFirst().orElse(-1);
        assertThat(firstDiff).as("first byte changed").isEqualTo(-1);
        assertThat(blocks(f)).isGreaterThan(blocksBefore);
        assertThat(blocks(f) * 512).isGreaterThanOrEqualTo(Files.size(f));
    }

    @Test
    void bytesChronicleWroteBeyondTheReservationSurviveTheNextStep() throws Exception {
        // Chronicle sets a segment's length at once and may put index arrays just beyond its first
        // document: a later reservation step must write those bytes back, never zeros over them.
        Path f = tmp.resolve("seg.precreated");
        byte[] index = new byte[300];
        new Random(3).nextBytes(index);
        try (SegmentSpace s = SegmentSpace.create(f, "seg", 256 << 10, 256 << 10, SegmentSpace.WRITTEN);
                java.io.RandomAccessFile chronicle = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            chronicle.setLength(80L << 20);
            chronicle.seek((256 << 10) + 100);
            chronicle.write(index);
            s.ensure(1 << 20);
            assertThat(s.reservedTo()).isEqualTo(1 << 20);
        }
        assertThat(Files.size(f)).isEqualTo(80L << 20);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(index.length);
            ch.read(b, (256 << 10) + 100);
            assertThat(b.array()).isEqualTo(index);
        }
        assertThat(blocks(f) * 512).isGreaterThanOrEqualTo(1 << 20);
    }

    @Test
    void aWrittenSegmentGoesOnWithFallocateOnceThePosixLayerIsBuiltKeepingItsZeros() throws Exception {
        Path pre = tmp.resolve("seg.precreated");
        Path seg = tmp.resolve("seg");
        try (SegmentSpace s = SegmentSpace.create(pre, "seg", 256 << 10, 2 << 20, SegmentSpace.WRITTEN)) {
            assertThat(s.writing()).isTrue();
            Files.move(pre, seg); // what Chronicle does with a precreated segment
            assertThat(SegmentSpace.buildPosixNow()).as("POSIX layer (jnr-ffi) built").isTrue();
            s.ensure((256 << 10) + 1);
            assertThat(s.writing()).isFalse();
            // allocated steps are the full ones again, and zero-filling goes on where the writes ended
            assertThat(s.reservedTo()).isEqualTo(2 << 20);
            assertThat(s.zeroedTo()).isEqualTo(256 << 10);
            s.zeroAhead(0, 1 << 20);
            assertThat(s.zeroedTo()).isEqualTo(1 << 20);
        }
        assertThat(blocks(seg) * 512).isGreaterThanOrEqualTo(2 << 20);
        assertAllZeros(seg);
    }

    @Test
    void refusedReservationIsALogSpaceExceptionNamingTheFile() throws IOException {
        // a directory where the file should be: the write is refused with an ordinary error
        Path f = tmp.resolve("seg.precreated");
        Files.createDirectory(f);
        try {
            SegmentSpace.create(f, "seg", 1 << 20, 2 << 20, SegmentSpace.WRITTEN);
            throw new AssertionError("no error");
        } catch (LogSpaceException e) {
            assertThat(e.getMessage()).startsWith("cannot create seg: ");
            assertThat(e.directory()).isEqualTo(tmp);
        }
    }
}
