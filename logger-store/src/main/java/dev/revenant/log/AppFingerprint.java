package dev.revenant.log;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * What identifies the build of the app that wrote a log: replaying a log against other code would
 * diverge in confusing ways, so replay compares this and refuses a mismatch.
 *
 * @param mainClass      the app's main class (or jar)
 * @param classPathHash  SHA-256 over the <em>content</em> of every class-path entry, in order
 * @param jvmVersion     {@code java.vm.version} of the JVM that recorded
 * @param agentVersion   version of the Revenant agent that recorded
 */
public record AppFingerprint(String mainClass, String classPathHash, String jvmVersion, String agentVersion) {

    /**
     * Computes the fingerprint. Jar entries are hashed by their bytes, directories by the sorted
     * relative paths and bytes of every file below them; a missing entry counts as its name only.
     */
    public static AppFingerprint compute(String mainClass, String classPath, String agentVersion) throws IOException {
        MessageDigest sha = sha256();
        if (classPath != null) {
            for (String entry : classPath.split(java.io.File.pathSeparator)) {
                if (entry.isEmpty()) {
                    continue;
                }
                Path p = Path.of(entry);
                sha.update(entry.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                if (Files.isRegularFile(p)) {
                    hashFile(sha, p);
                } else if (Files.isDirectory(p)) {
                    List<Path> files = new ArrayList<>();
                    try (Stream<Path> walk = Files.walk(p)) {
                        walk.filter(Files::isRegularFile).forEach(files::add);
                    }
                    files.sort(null);
                    for (Path f : files) {
                        sha.update(p.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
                        sha.update((byte) 0);
                        hashFile(sha, f);
                    }
                }
            }
        }
        return new AppFingerprint(mainClass, HexFormat.of().formatHex(sha.digest()),
                System.getProperty("java.vm.version"), agentVersion);
    }

    /** Human-readable list of the fields that differ, empty if none. */
    public List<String> differences(AppFingerprint other) {
        List<String> d = new ArrayList<>();
        if (!mainClass.equals(other.mainClass)) {
            d.add("main class " + mainClass + " vs " + other.mainClass);
        }
        if (!classPathHash.equals(other.classPathHash)) {
            d.add("class path content " + abbreviate(classPathHash) + " vs " + abbreviate(other.classPathHash));
        }
        if (!jvmVersion.equals(other.jvmVersion)) {
            d.add("JVM " + jvmVersion + " vs " + other.jvmVersion);
        }
        if (!agentVersion.equals(other.agentVersion)) {
            d.add("agent " + agentVersion + " vs " + other.agentVersion);
        }
        return d;
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    private static void hashFile(MessageDigest sha, Path f) throws IOException {
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = Files.newInputStream(f)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
