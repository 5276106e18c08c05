package dev.revenant.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogDirectoryTest {

    @TempDir
    Path tmp;

    @BeforeEach
    void posixOnly() {
        assumeTrue(LogDirectory.isPosix(tmp), "needs a POSIX file system");
    }

    private static Set<PosixFilePermission> mode(String s) {
        return PosixFilePermissions.fromString(s);
    }

    private static String modeOf(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    private static long entries(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void createsMissingDirectoryAndParentsWithMode0700() throws Exception {
        Path dir = tmp.resolve("a/b/log");

        Path prepared = LogDirectory.prepareForWriting(dir);

        assertThat(prepared).isEqualTo(dir.toAbsolutePath().normalize()).isDirectory();
        assertThat(modeOf(dir)).isEqualTo("rwx------");
        assertThat(modeOf(tmp.resolve("a"))).isEqualTo("rwx------");
        assertThat(entries(dir)).as("the write probe leaves nothing behind").isZero();
    }

    @Test
    void returnsAbsoluteNormalizedPath() throws Exception {
        Path messy = tmp.resolve("x/../log/./");

        assertThat(LogDirectory.prepareForWriting(messy))
                .isEqualTo(tmp.resolve("log").toAbsolutePath().normalize());
    }

    @Test
    void tightensAnExisting0755DirectoryTo0700() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("log"));
        Files.setPosixFilePermissions(dir, mode("rwxr-xr-x"));
        Files.writeString(dir.resolve("20250101.cq4"), "keep me");

        LogDirectory.prepareForWriting(dir);

        assertThat(modeOf(dir)).isEqualTo("rwx------");
        assertThat(dir.resolve("20250101.cq4")).hasContent("keep me");
        assertThat(entries(dir)).isEqualTo(1);
    }

    @Test
    void acceptsAnExisting0700DirectoryAsIs() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("log"));
        Files.setPosixFilePermissions(dir, mode("rwx------"));

        assertThat(LogDirectory.prepareForWriting(dir)).isEqualTo(dir.toAbsolutePath());
        assertThat(modeOf(dir)).isEqualTo("rwx------");
    }

    @Test
    void refusesAWorldWritableDirectoryAndLeavesItAlone() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("log"));
        Files.setPosixFilePermissions(dir, mode("rwxrwxrwx"));

        assertThatThrownBy(() -> LogDirectory.prepareForWriting(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessage("log directory " + dir.toAbsolutePath() + " is world-writable (mode"
                        + " 0777); a log holds secrets: chmod 700 it or choose another");
        assertThat(modeOf(dir)).isEqualTo("rwxrwxrwx");
    }

    @Test
    void namesTheActualModeOfAWorldWritableDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("log"));
        Files.setPosixFilePermissions(dir, mode("rwxr-xrwx"));

        assertThatThrownBy(() -> LogDirectory.prepareForWriting(dir))
                .hasMessageContaining("is world-writable (mode 0757)");
    }

    @Test
    void refusesARegularFile() throws Exception {
        Path file = Files.writeString(tmp.resolve("log"), "not a directory");

        assertThatThrownBy(() -> LogDirectory.prepareForWriting(file))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("is not a directory");
        assertThat(file).hasContent("not a directory");
    }

    @Test
    void refusesAPathBelowARegularFile() throws Exception {
        Path file = Files.writeString(tmp.resolve("file"), "x");
        Path dir = file.resolve("sub/log");

        assertThatThrownBy(() -> LogDirectory.prepareForWriting(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageContaining("cannot create log directory " + dir)
                .hasMessageContaining(file + " is a file, not a directory");
    }

    @Test
    void refusesAnExistingDirectoryThatCannotBeWrittenEvenByRoot() {
        // /proc/self is a directory in which nobody, not even root, can create files.
        Path dir = Path.of("/proc/self");
        assumeTrue(Files.isDirectory(dir), "needs Linux /proc");

        assertThatThrownBy(() -> LogDirectory.prepareForWriting(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageStartingWith("log directory /proc/self is not writable: ")
                .hasMessageContaining("choose another")
                .hasMessageNotContaining("null")
                .hasMessageNotContaining("\n");
    }

    @Test
    void refusesADirectoryThatCannotBeCreated() {
        assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
        Path dir = Path.of("/proc/revenant-test-" + System.nanoTime() + "/log");

        assertThatThrownBy(() -> LogDirectory.prepareForWriting(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageStartingWith("cannot create log directory " + dir + ": ")
                .hasMessageContaining("choose a location")
                .hasMessageNotContaining("null");
        assertThat(dir.getParent()).doesNotExist();
    }

    @Test
    void readerRefusesAMissingDirectory() {
        Path dir = tmp.resolve("nope");

        assertThatThrownBy(() -> LogDirectory.requireReadableLog(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageStartingWith("no log at " + dir + ": the directory does not exist");
    }

    @Test
    void readerRefusesAnEmptyDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("empty"));

        assertThatThrownBy(() -> LogDirectory.requireReadableLog(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageContaining(dir + " is not a Revenant log: no *.cq4 segment files")
                .hasMessageContaining("empty");
    }

    @Test
    void readerRefusesADirectoryWithoutSegments() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("other"));
        Files.writeString(dir.resolve("notes.txt"), "hello");
        Files.createDirectory(dir.resolve("fake.cq4")); // a directory is not a segment

        assertThatThrownBy(() -> LogDirectory.requireReadableLog(dir))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageContaining(dir + " is not a Revenant log: no *.cq4 segment files");
    }

    @Test
    void readerRefusesARegularFile() throws Exception {
        Path file = Files.writeString(tmp.resolve("20250101.cq4"), "x");

        assertThatThrownBy(() -> LogDirectory.requireReadableLog(file))
                .isInstanceOf(LogDirectoryException.class)
                .hasMessageContaining(file + " is not a directory");
    }

    @Test
    void readerAcceptsALogAndChangesNothing() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("log"));
        Files.setPosixFilePermissions(dir, mode("r-xr-xr-x"));
        Files.writeString(dir.resolve("20250101.cq4"), "segment");

        assertThat(LogDirectory.requireReadableLog(tmp.resolve("./log")))
                .isEqualTo(dir.toAbsolutePath().normalize());
        assertThat(modeOf(dir)).isEqualTo("r-xr-xr-x");
        Files.setPosixFilePermissions(dir, mode("rwx------")); // let @TempDir clean up
    }

    @Test
    void restrictFileSetsMode0600() throws Exception {
        Path file = Files.writeString(tmp.resolve("secret"), "s");
        Files.setPosixFilePermissions(file, mode("rw-r--r--"));

        LogDirectory.restrictFile(file);

        assertThat(modeOf(file)).isEqualTo("rw-------");
    }

    @Test
    void restrictFileFailsLoudlyOnAMissingFile() {
        assertThatThrownBy(() -> LogDirectory.restrictFile(tmp.resolve("missing")))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("cannot restrict");
    }

    @Test
    void fsyncDirectoryWorksOnADirectory() throws Exception {
        LogDirectory.fsyncDirectory(tmp);
    }

    @Test
    void octalRendersModes() {
        assertThat(LogDirectory.octal(mode("rwx------"))).isEqualTo("0700");
        assertThat(LogDirectory.octal(mode("rwxr-x---"))).isEqualTo("0750");
        assertThat(LogDirectory.octal(mode("rw-rw-rw-"))).isEqualTo("0666");
        assertThat(LogDirectory.octal(mode("---------"))).isEqualTo("0000");
    }
}
