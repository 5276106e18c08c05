package dev.revenant.log;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * Hashes what the JVM can load from a class path and a module path, and nothing else.
 *
 * <p>The rule: a jar (any regular file on either path) counts by its bytes, and a jar's manifest
 * {@code Class-Path} entries count after it (resolved against the jar's folder, as the JVM does);
 * a folder on the class path counts by its {@code .class} files and everything under
 * {@code META-INF/} (service files, manifests, which decide what gets loaded), each by its path
 * relative to the folder and its bytes; a folder on the module path counts the same way plus the
 * jars directly inside it. Other files in a class-path folder do not count: the log, data files,
 * pid files and {@code *.log} files the app writes while it runs must not make its own log look
 * like another build's. A folder given as {@code skip} (the log) is never entered. Entries count
 * by content, not by name: the same files reached by a relative or an absolute path, or a
 * symbolic link, hash the same; an entry seen twice counts once; a missing entry counts as
 * "missing" at its place.
 */
final class ClassPathContent {

    private final MessageDigest sha;
    private final Path skip;
    private final Set<Path> seen = new HashSet<>();
    private final byte[] buf = new byte[64 * 1024];
    private long files;
    private long bytes;

    ClassPathContent(MessageDigest sha, Path skip) {
        this.sha = sha;
        this.skip = skip == null ? null : canonical(skip);
    }

    /** Adds a path-separator list of entries; {@code modulePath} picks the module-path rule. */
    void addPath(String path, boolean modulePath) throws IOException {
        if (path == null) {
            return;
        }
        tag(modulePath ? "module-path" : "class-path");
        Deque<Path> todo = new ArrayDeque<>();
        for (String entry : path.split(java.io.File.pathSeparator)) {
            if (!entry.isEmpty()) {
                todo.add(Path.of(entry));
            }
        }
        while (!todo.isEmpty()) {
            Path p = canonical(todo.removeFirst());
            if (!seen.add(p)) {
                continue;
            }
            if (Files.isRegularFile(p)) {
                tag("jar");
                hashFile(p);
                // Class-Path entries come right after the jar that names them, before the next entry.
                List<Path> more = manifestClassPath(p);
                for (int i = more.size() - 1; i >= 0; i--) {
                    todo.addFirst(more.get(i));
                }
            } else if (Files.isDirectory(p)) {
                tag("folder");
                hashFolder(p, modulePath);
            } else {
                tag("missing");
            }
        }
    }

    long files() {
        return files;
    }

    long bytes() {
        return bytes;
    }

    private void hashFolder(Path root, boolean modulePath) throws IOException {
        List<String> names = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                return skip != null && dir.equals(skip) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (attrs.isRegularFile()) {
                    String rel = root.relativize(file).toString().replace(java.io.File.separatorChar, '/');
                    boolean jarInModuleFolder = modulePath && rel.indexOf('/') < 0 && rel.endsWith(".jar");
                    if (rel.endsWith(".class") || rel.startsWith("META-INF/") || jarInModuleFolder) {
                        names.add(rel);
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE; // a file the app removed while we walked
            }
        });
        names.sort(null);
        for (String rel : names) {
            Path f = root.resolve(rel);
            if (Files.isRegularFile(f)) {
                sha.update(rel.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                hashFile(f);
            }
        }
    }

    private static List<Path> manifestClassPath(Path jar) {
        List<Path> out = new ArrayList<>();
        try (JarFile jf = new JarFile(jar.toFile(), false)) {
            Manifest m = jf.getManifest();
            String cp = m == null ? null : m.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
            if (cp != null) {
                for (String u : cp.trim().split("\\s+")) {
                    if (!u.isEmpty()) {
                        out.add(jar.getParent().resolve(urlPath(u)));
                    }
                }
            }
        } catch (IOException | RuntimeException notAJar) {
            // a plain file on the class path: its bytes counted, it names nothing
        }
        return out;
    }

    /** A Class-Path entry is a relative URL: its %-escapes decoded; taken as it is when it is not a URL. */
    private static String urlPath(String u) {
        try {
            String path = java.net.URI.create(u).getPath();
            return path == null ? u : path;
        } catch (IllegalArgumentException notAUrl) {
            return u;
        }
    }

    private void tag(String what) {
        sha.update(what.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
    }

    private void hashFile(Path f) throws IOException {
        files++;
        try (InputStream in = Files.newInputStream(f)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
                bytes += n;
            }
        } catch (java.nio.file.NoSuchFileException gone) {
            tag("missing");
        }
        sha.update((byte) 0);
    }

    private static Path canonical(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        try {
            return abs.toRealPath();
        } catch (IOException | RuntimeException e) {
            return abs;
        }
    }
}
