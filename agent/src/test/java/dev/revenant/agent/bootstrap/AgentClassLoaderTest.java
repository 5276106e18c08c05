package dev.revenant.agent.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;
import java.util.function.Supplier;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * {@link AgentClassLoader} over a jar laid out like revenant-agent.jar: classes and resources under
 * {@code revenant-impl/}, multi-release entries, a service file, bootstrap classes at the root.
 */
class AgentClassLoaderTest {

    @TempDir
    static Path tmp;

    static Path jar;

    /** Loaded through the agent loader; the test class path has it too, so identity shows who loaded it. */
    public static final class Impl implements Supplier<String> {
        @Override
        public String get() {
            return "impl";
        }
    }

    @BeforeAll
    static void buildJar() throws Exception {
        jar = tmp.resolve("revenant-agent.jar");
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Multi-Release", "true");
        a.putValue("Implementation-Title", "Revenant");
        a.putValue("Implementation-Version", "9.8.7-test");
        String p = AgentClassLoader.PREFIX;
        int rt = Runtime.version().feature();
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os, mf)) {
            dir(out, p);
            put(out, p + classEntry(Impl.class), classBytes(Impl.class));
            put(out, p + "mr/Which.class", which("base"));
            put(out, p + "data.txt", "base".getBytes(StandardCharsets.UTF_8));
            dir(out, p + "META-INF/");
            dir(out, p + "META-INF/services/");
            put(out, p + "META-INF/services/java.util.function.Supplier",
                (Impl.class.getName() + "\n").getBytes(StandardCharsets.UTF_8));
            dir(out, p + "META-INF/versions/");
            dir(out, p + "META-INF/versions/9/");
            put(out, p + "META-INF/versions/9/mr/Which.class", which("9"));
            put(out, p + "META-INF/versions/9/data.txt", "nine".getBytes(StandardCharsets.UTF_8));
            dir(out, p + "META-INF/versions/" + rt + "/");
            put(out, p + "META-INF/versions/" + rt + "/data.txt", "running".getBytes(StandardCharsets.UTF_8));
            dir(out, p + "META-INF/versions/" + (rt + 1) + "/");
            put(out, p + "META-INF/versions/" + (rt + 1) + "/mr/Which.class", which("too new"));
            put(out, p + "META-INF/versions/" + (rt + 1) + "/data.txt", "too new".getBytes(StandardCharsets.UTF_8));
            // at the root, as in the real jar: reachable as a fallback for the bootstrap package only
            put(out, classEntry(StartupTimer.class), classBytes(StartupTimer.class));
            put(out, "root.txt", "root".getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void definesImplementationClassesItselfWithThePlatformLoaderAsParent() throws Exception {
        AgentClassLoader l = AgentClassLoader.open(jar, true);
        assertThat(l.getParent()).isSameAs(ClassLoader.getPlatformClassLoader());
        Class<?> c = Class.forName(Impl.class.getName(), true, l);
        assertThat(c).isNotSameAs(Impl.class);
        assertThat(c.getClassLoader()).isSameAs(l);
        assertThat(c.getProtectionDomain().getCodeSource().getLocation()).isEqualTo(jar.toUri().toURL());
        assertThat(c.getPackage().getImplementationVersion()).isEqualTo("9.8.7-test");
        assertThat(c.getPackage().getImplementationTitle()).isEqualTo("Revenant");
        assertThat(l.definedClasses()).containsExactly(Impl.class.getName());
        // the application's classes (this test) are not visible from inside
        assertThatThrownBy(() -> Class.forName(AgentClassLoaderTest.class.getName(), false, l))
            .isInstanceOf(ClassNotFoundException.class);
        // JDK classes come from the parents
        assertThat(Class.forName("java.sql.Connection", false, l).getClassLoader())
            .isSameAs(ClassLoader.getPlatformClassLoader());
    }

    @Test
    void multiReleaseEntriesWinUpToTheRunningVersion() throws Exception {
        AgentClassLoader l = AgentClassLoader.open(jar, false);
        Class<?> which = Class.forName("mr.Which", true, l);
        assertThat(which.getMethod("v").invoke(null)).isEqualTo("9");
        assertThat(read(l.getResourceAsStream("data.txt"))).isEqualTo("running");
        assertThat(read(l.getResource("data.txt").openStream())).isEqualTo("running");
    }

    @Test
    void resourcesAreJarUrlsUnderThePrefix() throws Exception {
        AgentClassLoader l = AgentClassLoader.open(jar, false);
        URL u = l.getResource(classEntry(Impl.class));
        assertThat(u.getProtocol()).isEqualTo("jar");
        assertThat(u.toString()).endsWith("!/" + AgentClassLoader.PREFIX + classEntry(Impl.class));
        assertThat(l.getResource("root.txt")).as("only the prefix is searched").isNull();
        assertThat(l.getResource("nope.txt")).isNull();
        assertThat(l.getResourceAsStream("nope.txt")).isNull();
        assertThat(Collections.list(l.getResources("META-INF/services/java.util.function.Supplier"))).hasSize(1);
        // JDK resources through the parent
        assertThat(l.getResource("java/lang/Object.class")).isNotNull();
        assertThat(l.getResourceAsStream("java/lang/Object.class")).isNotNull();
    }

    @Test
    void serviceLoaderFindsServicesOfTheImplementation() throws Exception {
        AgentClassLoader l = AgentClassLoader.open(jar, false);
        @SuppressWarnings("rawtypes")
        List<Supplier> found = ServiceLoader.load(Supplier.class, l).stream().map(ServiceLoader.Provider::get).toList();
        assertThat(found).hasSize(1);
        assertThat(found.get(0).get()).isEqualTo("impl");
        assertThat(found.get(0).getClass().getClassLoader()).isSameAs(l);
    }

    @Test
    void bootstrapClassesMissingUnderThePrefixComeFromTheRoot() throws Exception {
        AgentClassLoader l = AgentClassLoader.open(jar, false);
        Class<?> c = Class.forName(StartupTimer.class.getName(), false, l);
        assertThat(c.getClassLoader()).isSameAs(l);
        assertThatThrownBy(() -> Class.forName(Premain.class.getName(), false, l))
            .as("not in this jar at all").isInstanceOf(ClassNotFoundException.class);
    }

    @Test
    void aJarWithoutTheImplementationSectionIsNotAnAgentJar() throws Exception {
        Path plain = tmp.resolve("plain.jar");
        try (OutputStream os = Files.newOutputStream(plain); JarOutputStream out = new JarOutputStream(os)) {
            put(out, classEntry(Impl.class), classBytes(Impl.class));
        }
        assertThat(AgentClassLoader.open(plain, false)).isNull();
    }

    @Test
    void jarOfFindsTheJarOfAClassAndNothingForADirectory() throws Exception {
        assertThat(AgentClassLoader.jarOf(AgentClassLoaderTest.class)).isNull(); // test-classes directory
        Path junitJar = AgentClassLoader.jarOf(Test.class);
        assertThat(junitJar).isNotNull();
        assertThat(junitJar.getFileName().toString()).startsWith("junit-jupiter-api").endsWith(".jar");
        assertThat(Files.isRegularFile(junitJar)).isTrue();
    }

    // -----------------------------------------------------------------------------------------

    private static String read(InputStream in) throws Exception {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String classEntry(Class<?> c) {
        return c.getName().replace('.', '/') + ".class";
    }

    private static byte[] classBytes(Class<?> c) throws Exception {
        Path dir = Paths.get(c.getProtectionDomain().getCodeSource().getLocation().toURI());
        return Files.readAllBytes(dir.resolve(classEntry(c)));
    }

    private static void dir(JarOutputStream out, String name) throws Exception {
        out.putNextEntry(new JarEntry(name));
        out.closeEntry();
    }

    private static void put(JarOutputStream out, String name, byte[] bytes) throws Exception {
        out.putNextEntry(new JarEntry(name));
        out.write(bytes);
        out.closeEntry();
    }

    /** {@code package mr; public class Which { public static String v() { return value; } }} */
    private static byte[] which(String value) {
        ClassWriter cw = new ClassWriter(ClassWriter.COMPUTE_FRAMES | ClassWriter.COMPUTE_MAXS);
        cw.visit(Opcodes.V11, Opcodes.ACC_PUBLIC | Opcodes.ACC_SUPER, "mr/Which", null, "java/lang/Object", null);
        MethodVisitor mv = cw.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "v", "()Ljava/lang/String;", null, null);
        mv.visitCode();
        mv.visitLdcInsn(value);
        mv.visitInsn(Opcodes.ARETURN);
        mv.visitMaxs(0, 0);
        mv.visitEnd();
        cw.visitEnd();
        return cw.toByteArray();
    }
}
