package dev.revenant.agent.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.lang.instrument.Instrumentation;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;

/**
 * Puts the bridge classes ({@code dev.revenant.bridge}) on the boot class path, so JDK code that
 * the agent instruments can call them, and exports {@code jdk.internal.misc} to them.
 *
 * <p>If the bridge is already reachable from the boot loader (the agent jar's
 * {@code Boot-Class-Path}), nothing is copied. Otherwise the bridge classes are copied from the
 * agent jar into {@code <log>/.native/revenant-bridge.jar} and appended to the boot search.
 */
final class BootBridge {
    private static final String PREFIX = "dev/revenant/bridge/";

    private BootBridge() {}

    static void install(Instrumentation inst, Path logDir) throws IOException {
        if (!onBootPath()) {
            Path jar = copyBridge(logDir);
            inst.appendToBootstrapClassLoaderSearch(new JarFile(jar.toFile()));
        }
        Class<?> hooks;
        try {
            hooks = Class.forName("dev.revenant.bridge.Hooks", false, null);
        } catch (ClassNotFoundException e) {
            throw new IOException("the bridge classes are not on the boot class path", e);
        }
        Module base = Object.class.getModule();
        inst.redefineModule(base, Set.of(), Map.of("jdk.internal.misc", Set.of(hooks.getModule())), Map.of(),
                Set.of(), Map.of());
    }

    private static boolean onBootPath() {
        try {
            Class.forName("dev.revenant.bridge.Hooks", false, null);
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private static Path copyBridge(Path logDir) throws IOException {
        URL self = BootBridge.class.getProtectionDomain().getCodeSource().getLocation();
        Path source;
        try {
            source = Path.of(self.toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IOException("cannot locate the agent jar at " + self, e);
        }
        Path dir = logDir.toAbsolutePath().resolve(".native");
        Files.createDirectories(dir);
        Path out = dir.resolve("revenant-bridge.jar");
        Path tmp = dir.resolve("revenant-bridge.jar.tmp");
        try (JarOutputStream jos = new JarOutputStream(Files.newOutputStream(tmp))) {
            if (Files.isDirectory(source)) {
                try (var walk = Files.walk(source.resolve(PREFIX))) {
                    for (Path f : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
                        jos.putNextEntry(new JarEntry(source.relativize(f).toString().replace('\\', '/')));
                        Files.copy(f, jos);
                        jos.closeEntry();
                    }
                }
            } else {
                try (JarFile jf = new JarFile(source.toFile())) {
                    for (Enumeration<JarEntry> en = jf.entries(); en.hasMoreElements(); ) {
                        JarEntry e = en.nextElement();
                        if (e.getName().startsWith(PREFIX) && !e.isDirectory()) {
                            jos.putNextEntry(new JarEntry(e.getName()));
                            try (InputStream in = jf.getInputStream(e)) {
                                in.transferTo(jos);
                            }
                            jos.closeEntry();
                        }
                    }
                }
            }
        }
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return out;
    }

}
