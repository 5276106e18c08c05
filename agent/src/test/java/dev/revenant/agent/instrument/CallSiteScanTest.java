package dev.revenant.agent.instrument;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;

/**
 * {@link CallSiteScan} lets ASM skip methods; skipping must never change the result. Every class of
 * the running JDK's core packages (a few thousand, with every kind of instruction javac emits:
 * switches, wide, invokedynamic) and this module's own classes are rewritten with the scan and
 * with every method visited; the bytes must be identical, and the scan must understand every
 * method (never fall back to "all").
 */
class CallSiteScanTest {

    @Test
    void scannedRewriteEqualsFullRewriteOnTheJdkAndOurClasses() throws Exception {
        List<byte[]> classes = new ArrayList<>();
        FileSystem jrt = FileSystems.getFileSystem(URI.create("jrt:/"));
        for (String pkg : List.of("java/lang", "java/util", "java/time", "java/io", "java/nio", "java/security",
                "sun/nio/ch", "jdk/internal/misc")) {
            Path dir = jrt.getPath("/modules/java.base/" + pkg);
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : (Iterable<Path>) walk.filter(f -> f.toString().endsWith(".class"))::iterator) {
                    classes.add(Files.readAllBytes(p));
                }
            }
        }
        Path own = Path.of(CallSiteScan.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        try (Stream<Path> walk = Files.walk(own)) {
            for (Path p : (Iterable<Path>) walk.filter(f -> f.toString().endsWith(".class"))::iterator) {
                classes.add(Files.readAllBytes(p));
            }
        }
        assertThat(classes).hasSizeGreaterThan(2000);
        int changed = 0;
        int skippedMethods = 0;
        for (byte[] c : classes) {
            String name = new ClassReader(c).getClassName();
            Set<String> scan = CallSiteScan.methodsToVisit(new ClassReader(c),
                    (o, n, d) -> HashCallSites.isRelevant(o, n, d) || ClockCallSites.isRelevant(o, n, d), true);
            assertThat(scan).as("scan understood %s", name).isNotSameAs(CallSiteScan.ALL);
            for (boolean[] flags : new boolean[][] {{true, true, false}, {true, false, false}, {false, true, false},
                    {true, true, true}, {false, false, true}}) {
                byte[] full = CallSiteTransformer.rewrite(null, c, flags[0], flags[1], flags[2], false);
                byte[] scanned = CallSiteTransformer.rewrite(null, c, flags[0], flags[1], flags[2], true);
                assertThat(normalized(scanned)).as("%s clocks=%s hashes=%s points=%s", name, flags[0], flags[1],
                        flags[2]).isEqualTo(normalized(full));
                if (full != null) {
                    changed++;
                }
            }
            skippedMethods += countMethods(c) - scan.size();
        }
        // the comparison is not vacuous
        assertThat(changed).isGreaterThan(2000);
        assertThat(skippedMethods).isGreaterThan(10_000);
    }

    /**
     * Re-encoded from scratch: a method the writer copied keeps the original order of its code's
     * attributes, a method it re-encoded gets ASM's; the same content must compare equal.
     */
    private static byte[] normalized(byte[] c) {
        if (c == null) {
            return null;
        }
        org.objectweb.asm.ClassWriter w = new org.objectweb.asm.ClassWriter(0);
        new ClassReader(c).accept(w, 0);
        return w.toByteArray();
    }

    private static int countMethods(byte[] c) {
        int[] n = {0};
        new ClassReader(c).accept(new org.objectweb.asm.ClassVisitor(org.objectweb.asm.Opcodes.ASM9) {
            @Override
            public org.objectweb.asm.MethodVisitor visitMethod(int a, String nm, String d, String s, String[] e) {
                n[0]++;
                return null;
            }
        }, ClassReader.SKIP_CODE);
        return n[0];
    }
}
