package dev.revenant.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The app-fingerprint rule on real files: what counts, what does not, and how paths are compared. */
class AppFingerprintTest {
    @TempDir
    Path tmp;
    Path classes;

    @BeforeEach
    void someClasses() throws IOException {
        classes = Files.createDirectories(tmp.resolve("app"));
        Files.createDirectories(classes.resolve("com/example"));
        Files.write(classes.resolve("com/example/Main.class"), new byte[] {(byte) 0xCA, (byte) 0xFE, 1});
        Files.createDirectories(classes.resolve("META-INF/services"));
        Files.writeString(classes.resolve("META-INF/services/com.example.Plugin"), "com.example.Impl\n");
    }

    private String hash(String classPath) throws IOException {
        return hash(classPath, null, null);
    }

    private String hash(String classPath, String modulePath, Path skip) throws IOException {
        return AppFingerprint.compute("Main", classPath, modulePath, skip, List.of(), "t").classPathHash();
    }

    @Test
    void filesTheAppWritesIntoAClassPathFolderDoNotCount() throws IOException {
        String before = hash(classes.toString());
        Files.writeString(classes.resolve("server.log"), "started\n");
        Files.writeString(classes.resolve("app.pid"), "4242");
        Files.createDirectories(classes.resolve("data"));
        Files.writeString(classes.resolve("data/store.json"), "{}");
        Files.createDirectories(classes.resolve("revenant-log"));
        Files.write(classes.resolve("revenant-log/20261207.cq4"), new byte[4096]);
        assertThat(hash(classes.toString())).isEqualTo(before);
    }

    @Test
    void theSkippedFolderIsNeverEntered() throws IOException {
        String before = hash(classes.toString(), null, classes.resolve("log"));
        Files.createDirectories(classes.resolve("log/nested"));
        Files.write(classes.resolve("log/nested/Stray.class"), new byte[] {1, 2, 3});
        assertThat(hash(classes.toString(), null, classes.resolve("log"))).isEqualTo(before);
        assertThat(hash(classes.toString())).as("without the skip the class file counts").isNotEqualTo(before);
    }

    @Test
    void aChangedClassOrServiceFileCounts() throws IOException {
        String before = hash(classes.toString());
        Files.write(classes.resolve("com/example/Main.class"), new byte[] {(byte) 0xCA, (byte) 0xFE, 2});
        String afterClass = hash(classes.toString());
        assertThat(afterClass).isNotEqualTo(before);
        Files.writeString(classes.resolve("META-INF/services/com.example.Plugin"), "com.example.Other\n");
        assertThat(hash(classes.toString())).isNotEqualTo(afterClass);
    }

    @Test
    void relativeAbsoluteAndLinkedPathsToTheSameContentAreTheSame() throws IOException {
        String abs = hash(classes.toAbsolutePath().toString());
        Path cwd = Path.of("").toAbsolutePath();
        assertThat(hash(cwd.relativize(classes.toAbsolutePath()).toString())).isEqualTo(abs);
        assertThat(hash(classes + "/./../app")).isEqualTo(abs);
        Path link = Files.createSymbolicLink(tmp.resolve("link"), classes);
        assertThat(hash(link.toString())).isEqualTo(abs);
        Path copy = tmp.resolve("copy");
        copyTree(classes, copy);
        assertThat(hash(copy.toString())).as("a copy elsewhere is the same build").isEqualTo(abs);
    }

    @Test
    void aJarsManifestClassPathCounts() throws IOException {
        Path lib = Files.createDirectories(tmp.resolve("lib"));
        jar(lib.resolve("dep.jar"), null, "dep/Dep.class", new byte[] {7});
        Path app = tmp.resolve("app.jar");
        jar(app, "lib/dep.jar", "Main.class", new byte[] {1});
        String before = hash(app.toString());
        jar(lib.resolve("dep.jar"), null, "dep/Dep.class", new byte[] {8});
        assertThat(hash(app.toString())).as("a dependency named only by the manifest changed").isNotEqualTo(before);
    }

    @Test
    void theModulePathCounts() throws IOException {
        Path mods = Files.createDirectories(tmp.resolve("mods"));
        jar(mods.resolve("m.jar"), null, "m/M.class", new byte[] {1});
        String before = hash(classes.toString(), mods.toString(), null);
        assertThat(before).isNotEqualTo(hash(classes.toString()));
        jar(mods.resolve("m.jar"), null, "m/M.class", new byte[] {2});
        assertThat(hash(classes.toString(), mods.toString(), null)).isNotEqualTo(before);
    }

    @Test
    void aMissingEntryCountsAtItsPlace() throws IOException {
        String with = hash(classes + java.io.File.pathSeparator + tmp.resolve("nope"));
        assertThat(with).isNotEqualTo(hash(classes.toString()));
    }

    @Test
    void onlyTheIdentityHashFlagsAreKeptSortedLastWins() {
        String flags = AppFingerprint.identityFlags(List.of("-Xmx1g", "-XX:+UseG1GC", "-XX:+UnlockExperimentalVMOptions",
                "-XX:hashCode=3", "-XX:MaxRAM=1g", "-XX:hashCode=5", "-XX:-UseDynamicNumberOfGCThreads", "-ea"));
        assertThat(flags).isEqualTo("-XX:+UseG1GC -XX:-UseDynamicNumberOfGCThreads -XX:hashCode=5");
        assertThat(AppFingerprint.identityFlags(List.of("-Xms64m"))).isEmpty();
    }

    @Test
    void aJarCountsByItsFileName() {
        assertThat(AppFingerprint.mainName("./build/kv.jar")).isEqualTo("kv.jar");
        assertThat(AppFingerprint.mainName("/srv/kv.jar")).isEqualTo("kv.jar");
        assertThat(AppFingerprint.mainName("com.example.Main")).isEqualTo("com.example.Main");
    }

    @Test
    void differencesNameTheFlags() {
        AppFingerprint a = new AppFingerprint("M", "h", "17", "1", "");
        AppFingerprint b = new AppFingerprint("M", "h", "17", "1", "-XX:+UseSerialGC");
        assertThat(a.differences(a)).isEmpty();
        assertThat(a.differences(b)).singleElement().asString().contains("-XX:+UseSerialGC").contains("same -XX flags");
    }

    private static void jar(Path at, String classPath, String entry, byte[] bytes) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (classPath != null) {
            m.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath);
        }
        try (OutputStream out = Files.newOutputStream(at); JarOutputStream j = new JarOutputStream(out, m)) {
            JarEntry e = new JarEntry(entry);
            e.setTime(0);
            j.putNextEntry(e);
            j.write(bytes);
            j.closeEntry();
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
