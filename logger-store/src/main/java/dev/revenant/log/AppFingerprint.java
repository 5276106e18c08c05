package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What identifies the build of the app that wrote a log: replaying a log against other code would
 * diverge in confusing ways, so replay compares this and refuses a mismatch.
 *
 * @param mainClass      the app's main class, or the file name of its {@code -jar}
 * @param classPathHash  SHA-256 over what the JVM can load from the class path and module path
 *                       (see {@link ClassPathContent} for the rule)
 * @param jvmVersion     {@code java.vm.version} of the JVM that recorded
 * @param agentVersion   version of the Revenant agent that recorded
 * @param vmFlags        the JVM flags that decide identity hashes and the threads the JVM starts
 *                       (see {@link #IDENTITY_FLAGS}), sorted; empty when none was given
 */
public record AppFingerprint(String mainClass, String classPathHash, String jvmVersion, String agentVersion,
                             String vmFlags) {

    /**
     * {@code -XX} flags compared between record and replay: the identity-hash mode, the flags that
     * decide how many compiler and GC threads the JVM starts (each creation moves the random
     * stream identity-hash seeds are drawn from), the collector, and the object header layout
     * (where the hash sits).
     */
    public static final Set<String> IDENTITY_FLAGS = Set.of("hashCode", "UseDynamicNumberOfCompilerThreads",
            "UseDynamicNumberOfGCThreads", "ActiveProcessorCount", "CICompilerCount", "ParallelGCThreads",
            "ConcGCThreads", "UseSerialGC", "UseParallelGC", "UseG1GC", "UseZGC", "ZGenerational",
            "UseShenandoahGC", "UseEpsilonGC", "UseCompactObjectHeaders");

    public AppFingerprint(String mainClass, String classPathHash, String jvmVersion, String agentVersion) {
        this(mainClass, classPathHash, jvmVersion, agentVersion, "");
    }

    /** Computes the fingerprint of a class path alone (no module path, nothing skipped, no flags). */
    public static AppFingerprint compute(String mainClass, String classPath, String agentVersion) throws IOException {
        return compute(mainClass, classPath, null, null, List.of(), agentVersion);
    }

    /**
     * Computes the fingerprint.
     *
     * @param classPath  {@code java.class.path}
     * @param modulePath {@code jdk.module.path}, or null
     * @param skip       a folder never hashed even when it lies on a path (the log), or null
     * @param jvmArgs    the JVM's input arguments; only {@link #IDENTITY_FLAGS} are kept
     */
    public static AppFingerprint compute(String mainClass, String classPath, String modulePath, Path skip,
                                         List<String> jvmArgs, String agentVersion) throws IOException {
        MessageDigest sha = sha256();
        ClassPathContent content = new ClassPathContent(sha, skip);
        content.addPath(classPath, false);
        content.addPath(modulePath, true);
        return new AppFingerprint(mainName(mainClass), HexFormat.of().formatHex(sha.digest()),
                System.getProperty("java.vm.version"), agentVersion, identityFlags(jvmArgs));
    }

    /** A {@code -jar} counts by its file name, so {@code ./kv.jar} and {@code /srv/kv.jar} are one app. */
    static String mainName(String main) {
        if (main != null && main.endsWith(".jar")) {
            String name = Path.of(main).getFileName().toString();
            return name.isEmpty() ? main : name;
        }
        return main;
    }

    /** The {@link #IDENTITY_FLAGS} among the arguments, sorted, space-separated (last one of a name wins). */
    static String identityFlags(List<String> jvmArgs) {
        java.util.Map<String, String> byName = new java.util.HashMap<>();
        for (String a : jvmArgs) {
            if (!a.startsWith("-XX:")) {
                continue;
            }
            String body = a.substring(4);
            String name = body.startsWith("+") || body.startsWith("-") ? body.substring(1) : body;
            int eq = name.indexOf('=');
            name = eq < 0 ? name : name.substring(0, eq);
            if (IDENTITY_FLAGS.contains(name)) {
                byName.put(name, a);
            }
        }
        return String.join(" ", new TreeSet<>(byName.values()));
    }

    /** Human-readable list of the fields that differ, empty if none. */
    public List<String> differences(AppFingerprint other) {
        List<String> d = new ArrayList<>();
        if (!mainClass.equals(other.mainClass)) {
            d.add("main class " + mainClass + " vs " + other.mainClass);
        }
        if (!classPathHash.equals(other.classPathHash)) {
            d.add("class path content " + abbreviate(classPathHash) + " vs " + abbreviate(other.classPathHash)
                    + " (a class file, a jar or a META-INF file on the class or module path changed)");
        }
        if (!jvmVersion.equals(other.jvmVersion)) {
            d.add("JVM " + jvmVersion + " vs " + other.jvmVersion);
        }
        if (!agentVersion.equals(other.agentVersion)) {
            d.add("agent " + agentVersion + " vs " + other.agentVersion);
        }
        if (!vmFlags.equals(other.vmFlags)) {
            d.add("JVM flags that decide identity hashes [" + vmFlags + "] vs [" + other.vmFlags
                    + "] (give replay the same -XX flags as the recording)");
        }
        return d;
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
