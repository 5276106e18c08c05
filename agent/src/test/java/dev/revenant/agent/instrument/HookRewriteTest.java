package dev.revenant.agent.instrument;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import dev.revenant.agent.instrument.HookRewrite.Operand;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * {@link HookRewrite} on a stand-in class, defined in a fresh loader so that the VM verifies the
 * rewritten code, then run: which hooks run, in which order, with what, and what the method
 * answers or throws. The last test rewrites the running JDK's own socket classes as the agent
 * does and checks that every hook found its method.
 */
class HookRewriteTest {
    private static final String H = HookRewriteTest.Hooks.class.getName().replace('.', '/');

    /** Stand-in for a socket class: a descriptor field, methods that return, throw and catch. */
    public static final class Sample {
        private final int fdVal = 7;
        private final String label;

        public Sample() {
            this("plain");
        }

        public Sample(String label) {
            this.label = label;
        }

        public int read(Object buf) throws IOException {
            if (buf == null) {
                throw new IOException("no buffer");
            }
            return ((String) buf).length();
        }

        public int twoReturns(int x) {
            try {
                if (x < 0) {
                    throw new IllegalArgumentException("caught inside");
                }
            } catch (IllegalArgumentException e) {
                return -1;
            }
            if (x == 0) {
                return 0;
            }
            return x * 2;
        }

        public String greet(String who, long times) {
            return "hello " + who + " x" + times;
        }

        public int absolute(int x) {
            return Math.abs(x);
        }

        public void work(int x) {
            if (x == 3) {
                throw new IllegalStateException("three");
            }
        }
    }

    /** The hook class the rewrite calls into. */
    public static final class Hooks {
        static final List<String> SEEN = new ArrayList<>();
        static Object answer;

        public static Object readEnter(int fd, Object buf) {
            SEEN.add("enter fd=" + fd + " buf=" + buf);
            return answer;
        }

        public static int readExit(int n, int fd, Object buf) {
            SEEN.add("exit " + n);
            return n + 100;
        }

        public static Throwable readExitThrown(Throwable t, int fd, Object buf) {
            SEEN.add("thrown " + t.getMessage());
            return new IOException("replaced: " + t.getMessage());
        }

        public static int twoExit(int n, Object self) {
            SEEN.add("exit " + n);
            if (n == 0) {
                throw new IllegalStateException("deliberate from the exit hook");
            }
            return n;
        }

        public static Throwable twoExitThrown(Throwable t, Object self) {
            SEEN.add("thrown " + t.getMessage());
            return t;
        }

        public static Object greetArg(Object self, Object who, long times) {
            SEEN.add("arg " + who + " " + times);
            return "stand-in";
        }

        public static void workEnter(String text, int x) {
            SEEN.add("entry " + text + " " + x);
        }

        public static Object workSkip(int x) {
            return x == 5 ? "skip" : x == 6 ? new IllegalArgumentException("recorded") : null;
        }

        public static void workExit(int x) {
            SEEN.add("exit work " + x);
        }

        public static Throwable workExitThrown(Throwable t, int x) {
            SEEN.add("thrown work " + t.getMessage());
            return t;
        }

        public static int fakeAbs(int x) {
            return 1000 + Math.abs(x);
        }

        public static void opened(Object label) {
            SEEN.add("opened " + label);
        }

        public static int replayedInt(Object r) {
            if (r instanceof Integer i) {
                return i;
            }
            throw (RuntimeException) r;
        }

        public static void replayedVoid(Object r) {
            if (r instanceof RuntimeException e) {
                throw e;
            }
        }
    }

    @BeforeEach
    void reset() {
        Hooks.SEEN.clear();
        Hooks.answer = null;
    }

    private static Class<?> rewritten(ClassRewrite... rewrites) throws Exception {
        JdkTransforms jdk = new JdkTransforms().addAsm(Sample.class.getName(), rewrites);
        byte[][] out = new byte[1][];
        String err = JdkTransformsTest.stderrOf(
                () -> out[0] = jdk.rewrite(Sample.class.getName(), JdkTransformsTest.bytes(Sample.class)));
        assertThat(err).isEmpty();
        return JdkTransformsTest.define(Sample.class, out[0]);
    }

    private static Object invoke(Object target, String method, Class<?>[] types, Object... args) throws Throwable {
        try {
            return target.getClass().getMethod(method, types).invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static final Class<?>[] OBJ = {Object.class};
    private static final Class<?>[] INT = {int.class};

    private Class<?> readHooked() throws Exception {
        return rewritten(HookRewrite.on("read", "(Ljava/lang/Object;)I", H)
                .skipIf("readEnter", Operand.field("fdVal", "I"), Operand.arg(0))
                .outcome("readExit", Operand.field("fdVal", "I"), Operand.arg(0)));
    }

    @Test
    void whenTheEntryAnswersNullTheMethodRunsAndTheExitHookReplacesTheResult() throws Throwable {
        Object s = readHooked().getConstructor().newInstance();
        assertThat(invoke(s, "read", OBJ, "abcd")).isEqualTo(104);
        assertThat(Hooks.SEEN).containsExactly("enter fd=7 buf=abcd", "exit 4");
    }

    @Test
    void whenTheEntryAnswersTheMethodIsSkippedAndTheAnswerReturnedOrThrown() throws Throwable {
        Object s = readHooked().getConstructor().newInstance();
        Hooks.answer = 55;
        assertThat(invoke(s, "read", OBJ, (Object) null)).isEqualTo(55);
        assertThat(Hooks.SEEN).containsExactly("enter fd=7 buf=null");

        Hooks.SEEN.clear();
        Hooks.answer = new IllegalStateException("as recorded");
        assertThatThrownBy(() -> invoke(s, "read", OBJ, "x")).hasMessage("as recorded");
        assertThat(Hooks.SEEN).containsExactly("enter fd=7 buf=x");
    }

    @Test
    void whatEscapesTheMethodGoesThroughTheThrownHookWhichMayReplaceIt() throws Throwable {
        Object s = readHooked().getConstructor().newInstance();
        assertThatThrownBy(() -> invoke(s, "read", OBJ, (Object) null)).isInstanceOf(IOException.class)
                .hasMessage("replaced: no buffer");
        assertThat(Hooks.SEEN).containsExactly("enter fd=7 buf=null", "thrown no buffer");
    }

    @Test
    void everyReturnRunsTheExitAndWhatTheMethodCatchesItselfOrTheExitThrowsIsNotSeenAsThrown() throws Throwable {
        Object s = rewritten(HookRewrite.on("twoReturns", "(I)I", H).outcome("twoExit", Operand.self()))
                .getConstructor().newInstance();
        assertThat(invoke(s, "twoReturns", INT, -5)).isEqualTo(-1);
        assertThat(invoke(s, "twoReturns", INT, 4)).isEqualTo(8);
        assertThat(Hooks.SEEN).containsExactly("exit -1", "exit 8");
        Hooks.SEEN.clear();
        assertThatThrownBy(() -> invoke(s, "twoReturns", INT, 0)).hasMessage("deliberate from the exit hook");
        assertThat(Hooks.SEEN).containsExactly("exit 0");
    }

    @Test
    void anArgumentCanBeReplacedAtEntryWithLongParametersAround() throws Throwable {
        Object s = rewritten(HookRewrite.on("greet", "(Ljava/lang/String;J)Ljava/lang/String;", H)
                .replaceArg(0, "greetArg", Operand.self(), Operand.arg(0), Operand.arg(1)))
                .getConstructor().newInstance();
        assertThat(invoke(s, "greet", new Class<?>[] {String.class, long.class}, "bob", 3L))
                .isEqualTo("hello stand-in x3");
        assertThat(Hooks.SEEN).containsExactly("arg bob 3");
    }

    @Test
    void voidMethodsGetEntryExitSkipAndThrownHooks() throws Throwable {
        Object s = rewritten(HookRewrite.on("work", "(I)V", H)
                .atEntry("workEnter", Operand.text("note"), Operand.arg(0))
                .skipIf("workSkip", Operand.arg(0))
                .outcome("workExit", Operand.arg(0))).getConstructor().newInstance();
        invoke(s, "work", INT, 1);
        assertThatThrownBy(() -> invoke(s, "work", INT, 3)).hasMessage("three");
        invoke(s, "work", INT, 5);
        assertThatThrownBy(() -> invoke(s, "work", INT, 6)).hasMessage("recorded");
        assertThat(Hooks.SEEN).containsExactly("entry note 1", "exit work 1", "entry note 3", "thrown work three",
                "entry note 5", "entry note 6");
    }

    @Test
    void constructorsGetExitHooksAfterTheFieldsAreSet() throws Throwable {
        Class<?> c = rewritten(HookRewrite.on("<init>", null, H).exit("opened",
                Operand.field("label", "Ljava/lang/String;")));
        c.getConstructor(String.class).newInstance("mine");
        c.getConstructor().newInstance();
        // the no-argument constructor delegates: the hook runs at the end of both
        assertThat(Hooks.SEEN).containsExactly("opened mine", "opened plain", "opened plain");
    }

    @Test
    void callsOfAStaticMethodCanBeRedirected() throws Throwable {
        Object s = rewritten(HookRewrite.replaceCalls("java/lang/Math", "abs", "(I)I", H, "fakeAbs"))
                .getConstructor().newInstance();
        assertThat(invoke(s, "absolute", INT, -4)).isEqualTo(1004);
    }

    @Test
    void theRunningJdksSocketClassesAreRewrittenWithEveryHookFindingItsMethod() throws Exception {
        JdkTransforms jdk = Instrumenter.jdkTransforms(Set.of(), true);
        FileSystem jrt = FileSystems.getFileSystem(URI.create("jrt:/"));
        List<String> socketClasses = List.of("sun.nio.ch.ServerSocketChannelImpl", "sun.nio.ch.SocketChannelImpl",
                "sun.nio.ch.NioSocketImpl", "sun.nio.ch.EPollSelectorImpl", "sun.nio.ch.DatagramChannelImpl",
                "sun.nio.ch.UnixAsynchronousSocketChannelImpl", "sun.nio.ch.UnixAsynchronousServerSocketChannelImpl");
        for (String c : socketClasses) {
            byte[] original;
            try (InputStream in = Files.newInputStream(jrt.getPath("modules", "java.base",
                    c.replace('.', '/') + ".class"))) {
                original = in.readAllBytes();
            }
            byte[][] out = new byte[1][];
            String err = JdkTransformsTest.stderrOf(() -> out[0] = jdk.rewrite(c, original));
            assertThat(err).as(c).isEmpty();
            assertThat(out[0]).as(c).isNotNull().isNotEqualTo(original);
            assertThat(bridgeCallsMissing(out[0])).as(c + ": calls of bridge methods that do not exist").isEmpty();
        }
    }

    /** The calls into {@code dev/revenant/bridge} in a class file that name no method the bridge has. */
    private static List<String> bridgeCallsMissing(byte[] classFile) {
        List<String> missing = new ArrayList<>();
        new ClassReader(classFile).accept(new ClassVisitor(Opcodes.ASM9) {
            @Override
            public MethodVisitor visitMethod(int access, String name, String desc, String sig, String[] ex) {
                return new MethodVisitor(Opcodes.ASM9) {
                    @Override
                    public void visitMethodInsn(int op, String owner, String n, String d, boolean itf) {
                        if (owner.startsWith("dev/revenant/bridge/") && !exists(owner, n, d)) {
                            missing.add(owner + "." + n + d);
                        }
                    }
                };
            }
        }, ClassReader.SKIP_FRAMES);
        return missing;
    }

    private static boolean exists(String owner, String name, String desc) {
        try {
            for (Method m : Class.forName(owner.replace('/', '.')).getMethods()) {
                if (m.getName().equals(name) && Type.getMethodDescriptor(m).equals(desc)
                        && Modifier.isStatic(m.getModifiers())) {
                    return true;
                }
            }
            return false;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
