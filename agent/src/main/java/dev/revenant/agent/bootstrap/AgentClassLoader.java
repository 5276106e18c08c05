package dev.revenant.agent.bootstrap;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.security.AllPermission;
import java.security.CodeSigner;
import java.security.CodeSource;
import java.security.Permissions;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The class loader of the agent's implementation: everything in revenant-agent.jar under
 * {@value #PREFIX} (our runtime, CLI, logger-store, relocated Chronicle/picocli/ASM/Byte Buddy,
 * jnr/jffi/JNA with their native libraries, their resources and {@code META-INF/services}).
 *
 * <p>Only {@code dev/revenant/agent/bootstrap/**} and {@code dev/revenant/bridge/**} sit at the
 * jar's root, where the system class loader (the jar is on the class path under
 * {@code -javaagent}) and the boot loader ({@code Boot-Class-Path}) look; so the application sees
 * none of the implementation and the implementation sees none of the application: the parent is
 * the platform class loader. Classes of the bootstrap and bridge packages that the parent cannot
 * supply (the CLI: no {@code Boot-Class-Path}) are read from the jar's root instead.
 *
 * <p>Multi-release entries ({@code PREFIX + META-INF/versions/N/...}, N &le; the running feature
 * version) win over the plain ones when the manifest says {@code Multi-Release: true}, as for a
 * JarFile opened with the runtime version. Packages are defined with the jar manifest's
 * specification/implementation attributes; every class gets one ProtectionDomain whose CodeSource
 * is the jar. Resources are {@code jar:file:...!/revenant-impl/...} URLs (openable by anyone).
 *
 * <p>References only JDK types: it is loaded by the boot or system loader, before the modules are
 * open.
 */
public final class AgentClassLoader extends ClassLoader {

    /** Folder of the jar that holds the implementation. */
    public static final String PREFIX = "revenant-impl/";

    private static final String VERSIONS = "META-INF/versions/";
    private static final List<String> ROOT_PACKAGES = List.of("dev.revenant.agent.bootstrap.", "dev.revenant.bridge.");

    static {
        registerAsParallelCapable();
    }

    private final Path jarPath;
    private final ZipFile zip;
    private final String urlBase;
    private final ProtectionDomain domain;
    private final Attributes mainAttributes;
    /** Multi-release versions present in the jar, highest first, each &le; the running feature version. */
    private final int[] versions;
    /** When not null, the binary names of the classes this loader defined, in order (for the preload list). */
    private final List<String> defined;
    /** The thread that defined each of {@link #defined} (guarded by {@code defined}'s lock). */
    private final List<String> definedBy;
    private final java.util.concurrent.atomic.AtomicInteger definedCount = new java.util.concurrent.atomic.AtomicInteger();

    private AgentClassLoader(Path jarPath, ZipFile zip, Manifest manifest, boolean recordDefined) {
        super("revenant", ClassLoader.getPlatformClassLoader());
        this.jarPath = jarPath;
        this.zip = zip;
        URI uri = jarPath.toUri();
        this.urlBase = "jar:" + uri + "!/";
        URL location;
        try {
            location = uri.toURL();
        } catch (MalformedURLException e) {
            throw new IllegalStateException("agent jar path " + jarPath + " is not a URL", e);
        }
        Permissions all = new Permissions();
        all.add(new AllPermission());
        this.domain = new ProtectionDomain(new CodeSource(location, (CodeSigner[]) null), all);
        this.mainAttributes = manifest == null ? new Attributes() : manifest.getMainAttributes();
        this.versions = "true".equalsIgnoreCase(mainAttributes.getValue("Multi-Release")) ? findVersions(zip) : new int[0];
        this.defined = recordDefined ? Collections.synchronizedList(new ArrayList<>()) : null;
        this.definedBy = recordDefined ? new ArrayList<>() : null;
    }

    /**
     * Opens the agent jar. Returns null if the jar has no {@value #PREFIX} section (a jar of
     * plain classes, e.g. the minimal agent jar of a test): the caller then keeps using its own
     * class loader.
     *
     * @throws IOException if the jar cannot be read
     */
    public static AgentClassLoader open(Path jar, boolean recordDefined) throws IOException {
        ZipFile zip = new ZipFile(jar.toFile());
        boolean ok = false;
        try {
            if (zip.getEntry(PREFIX) == null && zip.getEntry(PREFIX + "META-INF/MANIFEST.MF") == null
                    && !hasPrefixedEntry(zip)) {
                return null;
            }
            Manifest mf = null;
            ZipEntry m = zip.getEntry("META-INF/MANIFEST.MF");
            if (m != null) {
                try (InputStream in = zip.getInputStream(m)) {
                    mf = new Manifest(in);
                }
            }
            AgentClassLoader loader = new AgentClassLoader(jar.toAbsolutePath(), zip, mf, recordDefined);
            ok = true;
            return loader;
        } finally {
            if (!ok) {
                zip.close();
            }
        }
    }

    private static boolean hasPrefixedEntry(ZipFile zip) {
        // jars written without directory entries: look for the class we always ship
        return zip.getEntry(PREFIX + "dev/revenant/agent/runtime/AgentMain.class") != null;
    }

    /**
     * The agent jar that holds {@code c}, from the class's own resource URL (works for classes of
     * the boot loader too, which have no CodeSource). Null if {@code c} was not loaded from a jar
     * (a classes directory: tests, IDE).
     */
    public static Path jarOf(Class<?> c) {
        String res = c.getName().replace('.', '/') + ".class";
        URL url = c.getResource("/" + res);
        if (url == null || !"jar".equals(url.getProtocol())) {
            return null;
        }
        String spec = url.toString(); // jar:file:/x/revenant-agent.jar!/dev/...
        int bang = spec.indexOf("!/");
        if (bang < 0) {
            return null;
        }
        try {
            URI file = new URI(spec.substring("jar:".length(), bang));
            return "file".equals(file.getScheme()) ? Path.of(file) : null;
        } catch (URISyntaxException | IllegalArgumentException e) {
            return null;
        }
    }

    /** The jar this loader reads. */
    public Path jar() {
        return jarPath;
    }

    /** Classes defined so far, in order, if recording was asked for (else empty). */
    public List<String> definedClasses() {
        if (defined == null) {
            return List.of();
        }
        synchronized (defined) {
            return new ArrayList<>(defined);
        }
    }

    /** Prefix of the names of the threads that open the log (dev.revenant.agent.runtime.LogOpening, LogWriter). */
    static final String LOG_THREADS = "revenant-log";

    /**
     * The defined classes in the order {@link Preloader} should load them: what was defined before
     * the first class a log thread defined (premain's path up to the moment the log starts opening
     * on its own thread), then everything the log threads defined (the longest path to
     * {@code main}), then the rest; each part in definition order. Empty if not recording.
     */
    public List<String> preloadOrder() {
        if (defined == null) {
            return List.of();
        }
        synchronized (defined) {
            int n = defined.size();
            int firstLog = 0;
            while (firstLog < n && !definedBy.get(firstLog).startsWith(LOG_THREADS)) {
                firstLog++;
            }
            List<String> order = new ArrayList<>(defined.subList(0, firstLog));
            for (int i = firstLog; i < n; i++) {
                if (definedBy.get(i).startsWith(LOG_THREADS)) {
                    order.add(defined.get(i));
                }
            }
            for (int i = firstLog; i < n; i++) {
                if (!definedBy.get(i).startsWith(LOG_THREADS)) {
                    order.add(defined.get(i));
                }
            }
            return order;
        }
    }

    /** How many classes this loader has defined. */
    public int definedCount() {
        return definedCount.get();
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        String path = name.replace('.', '/').concat(".class");
        ZipEntry e = entry(path);
        if (e == null && isRootPackage(name)) {
            e = zip.getEntry(path);
        }
        if (e == null) {
            throw new ClassNotFoundException(name);
        }
        byte[] bytes;
        try {
            bytes = read(e);
        } catch (IOException x) {
            throw new ClassNotFoundException(name + ": cannot read " + e.getName() + " from " + jarPath, x);
        }
        int dot = name.lastIndexOf('.');
        if (dot > 0) {
            definePackageOnce(name.substring(0, dot));
        }
        Class<?> c = defineClass(name, bytes, 0, bytes.length, domain);
        definedCount.incrementAndGet();
        if (defined != null) {
            synchronized (defined) {
                defined.add(name);
                definedBy.add(Thread.currentThread().getName());
            }
        }
        return c;
    }

    @Override
    protected URL findResource(String name) {
        String entryName = entryName(name);
        return entryName == null ? null : url(entryName);
    }

    @Override
    protected Enumeration<URL> findResources(String name) {
        URL u = findResource(name);
        return u == null ? Collections.emptyEnumeration() : Collections.enumeration(List.of(u));
    }

    /**
     * Parent first, then straight from the open jar (no URL, no JarURLConnection cache). jffi and
     * JNA read their native libraries this way.
     */
    @Override
    public InputStream getResourceAsStream(String name) {
        URL fromParent = getParent().getResource(name);
        if (fromParent != null) {
            try {
                return fromParent.openStream();
            } catch (IOException e) {
                return null;
            }
        }
        String entryName = entryName(name);
        if (entryName == null) {
            return null;
        }
        try {
            return new ByteArrayInputStream(read(zip.getEntry(entryName)));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The lines of the text entry {@code name} under the prefix (UTF-8, blank lines and
     * {@code #} comments skipped); empty if there is no such entry or it cannot be read.
     */
    public List<String> readLines(String name) {
        ZipEntry e = zip.getEntry(PREFIX + name);
        if (e == null) {
            return List.of();
        }
        try {
            String text = new String(read(e), java.nio.charset.StandardCharsets.UTF_8);
            List<String> lines = new ArrayList<>();
            int from = 0;
            while (from < text.length()) {
                int nl = text.indexOf('\n', from);
                int end = nl < 0 ? text.length() : nl;
                String t = text.substring(from, end).trim();
                if (!t.isEmpty() && !t.startsWith("#")) {
                    lines.add(t);
                }
                from = end + 1;
            }
            return lines;
        } catch (IOException x) {
            return List.of();
        }
    }

    @Override
    public String toString() {
        return "revenant agent loader (" + jarPath + ")";
    }

    // -----------------------------------------------------------------------------------------

    private static boolean isRootPackage(String className) {
        for (String p : ROOT_PACKAGES) {
            if (className.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** The jar entry name that holds resource {@code name}, or null. */
    private String entryName(String name) {
        if (name.startsWith("/")) {
            return null; // ClassLoader resource names are never absolute
        }
        ZipEntry e = entry(name);
        if (e == null && name.endsWith(".class") && isRootPackage(name.replace('/', '.'))) {
            e = zip.getEntry(name);
        }
        return e == null || e.isDirectory() && !name.endsWith("/") ? null : e.getName();
    }

    /** The entry for {@code name} under the prefix, the highest usable multi-release version first. */
    private ZipEntry entry(String name) {
        if (versions.length > 0 && !name.startsWith("META-INF/")) {
            for (int v : versions) {
                ZipEntry e = zip.getEntry(PREFIX + VERSIONS + v + "/" + name);
                if (e != null) {
                    return e;
                }
            }
        }
        return zip.getEntry(PREFIX + name);
    }

    private URL url(String entryName) {
        try {
            return new URL(urlBase + entryName);
        } catch (MalformedURLException e) {
            throw new UncheckedIOException(e);
        }
    }

    private byte[] read(ZipEntry e) throws IOException {
        try (InputStream in = zip.getInputStream(e)) {
            long size = e.getSize();
            if (size >= 0 && size < Integer.MAX_VALUE) {
                byte[] b = in.readNBytes((int) size);
                if (b.length == size) {
                    return b;
                }
                throw new IOException("short read of " + e.getName());
            }
            return in.readAllBytes();
        }
    }

    private void definePackageOnce(String pkg) {
        if (getDefinedPackage(pkg) != null) {
            return;
        }
        Attributes a = mainAttributes;
        try {
            definePackage(pkg,
                    a.getValue(Attributes.Name.SPECIFICATION_TITLE),
                    a.getValue(Attributes.Name.SPECIFICATION_VERSION),
                    a.getValue(Attributes.Name.SPECIFICATION_VENDOR),
                    a.getValue(Attributes.Name.IMPLEMENTATION_TITLE),
                    a.getValue(Attributes.Name.IMPLEMENTATION_VERSION),
                    a.getValue(Attributes.Name.IMPLEMENTATION_VENDOR),
                    null);
        } catch (IllegalArgumentException raced) {
            // defined by another thread in the meantime
        }
    }

    /**
     * Versions N with a folder PREFIX/META-INF/versions/N/, 9 &le; N &le; the running feature
     * version, highest first. Probes the folders' directory entries (the build writes them) rather
     * than enumerating the jar's thousands of entries.
     */
    private static int[] findVersions(ZipFile zip) {
        String base = PREFIX + VERSIONS;
        if (zip.getEntry(base) == null) {
            return new int[0];
        }
        int runtime = Runtime.version().feature();
        int[] found = new int[Math.max(0, runtime - 8)];
        int n = 0;
        for (int v = runtime; v >= 9; v--) {
            if (zip.getEntry(base + v + "/") != null) {
                found[n++] = v;
            }
        }
        return java.util.Arrays.copyOf(found, n);
    }
}
