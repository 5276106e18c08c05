package dev.revenant.agent.instrument;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

import dev.revenant.bridge.Preempt;

/**
 * {@link BackEdgeRewrite} on real javac output: the rewritten class must pass the JVM's verifier
 * (it is defined by a class loader of its own, whose classes are always verified), compute what
 * the original computes, and leave the thread's monitor depth where it found it on every way out
 * of a {@code synchronized} method or block, a thrown exception included.
 */
class BackEdgeRewriteTest {

    /** The code the rewrite is tried on: loops, switches, monitors, exceptions, wide locals. */
    public static final class Sample {
        static int initialised;

        static {
            for (int i = 0; i < 5; i++) {
                initialised += i;
            }
        }

        public static long loops(int n) {
            long sum = 0;
            for (int i = 0; i < n; i++) {
                int j = 0;
                while (j < i) {
                    j++;
                    sum += j;
                }
                do {
                    sum--;
                } while (sum % 3 == 0 && sum > 0);
            }
            return sum;
        }

        public static int switchInLoop(int n) {
            int r = 0;
            for (int i = 0; i < n; i++) {
                switch (i % 4) {
                    case 0 -> r += 1;
                    case 1 -> r += 10;
                    case 2 -> r += 100;
                    default -> r += 1000;
                }
            }
            return r;
        }

        public synchronized int syncMethod(long a, double b, int[] c) {
            int s = 0;
            for (int x : c) {
                s += x;
            }
            try {
                if (a < 0) {
                    throw new IllegalStateException("caught inside");
                }
            } catch (IllegalStateException e) {
                s = -s;
            }
            return s + (int) a + (int) b + Preempt.monitorDepth();
        }

        public static synchronized void syncThrows(int n) {
            for (int i = 0; i < n; i++) {
                if (i == 3) {
                    throw new IllegalArgumentException("out of a synchronized method");
                }
            }
        }

        public static int blockThrows(Object lock, int n) {
            int depthInside;
            synchronized (lock) {
                depthInside = Preempt.monitorDepth();
                synchronized (Sample.class) {
                    depthInside += Preempt.monitorDepth();
                    if (n > 2) {
                        throw new IllegalArgumentException("out of two blocks");
                    }
                }
            }
            return depthInside;
        }

        public static int clinitResult() {
            return initialised;
        }
    }

    private static byte[] original() throws Exception {
        try (InputStream in = Sample.class.getResourceAsStream("BackEdgeRewriteTest$Sample.class")) {
            return in.readAllBytes();
        }
    }

    /** Defines the rewritten Sample itself; everything else comes from the test's loader. */
    private static Class<?> define(byte[] bytes) throws Exception {
        ClassLoader parent = BackEdgeRewriteTest.class.getClassLoader();
        ClassLoader own = new ClassLoader(parent) {
            @Override
            protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
                if (name.equals(Sample.class.getName())) {
                    synchronized (getClassLoadingLock(name)) {
                        Class<?> c = findLoadedClass(name);
                        return c != null ? c : defineClass(name, bytes, 0, bytes.length);
                    }
                }
                return super.loadClass(name, resolve);
            }
        };
        return Class.forName(Sample.class.getName(), true, own);
    }

    private static Object call(Class<?> c, Object target, String name, Object... args) throws Throwable {
        for (Method m : c.getMethods()) {
            if (m.getName().equals(name)) {
                try {
                    return m.invoke(target, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            }
        }
        throw new NoSuchMethodException(name);
    }

    @Test
    void rewrittenClassVerifiesAndComputesTheSame() throws Throwable {
        byte[] bytes = CallSiteTransformer.rewrite(null, original(), false, false, true, true);
        assertThat(bytes).as("the sample has back-edges and monitors").isNotNull();
        Class<?> c = define(bytes);
        assertThat(c.getClassLoader()).isNotSameAs(Sample.class.getClassLoader());
        Object sample = c.getConstructor().newInstance();
        assertThat(call(c, null, "loops", 40)).isEqualTo(Sample.loops(40));
        assertThat(call(c, null, "switchInLoop", 9)).isEqualTo(Sample.switchInLoop(9));
        assertThat(call(c, null, "clinitResult")).isEqualTo(10);
        int[] values = {1, 2, 3};
        // the original sees depth 0 inside (nothing counts there); the rewrite sees its own monitor
        assertThat(call(c, sample, "syncMethod", 5L, 2.0, values)).isEqualTo(6 + 5 + 2 + 1);
        assertThat(call(c, sample, "syncMethod", -5L, 2.0, values)).isEqualTo(-6 - 5 + 2 + 1);
        assertThat(Preempt.monitorDepth()).isZero();
        assertThatThrownBy(() -> call(c, null, "syncThrows", 10)).isInstanceOf(IllegalArgumentException.class);
        assertThat(Preempt.monitorDepth()).as("after an exception out of a synchronized method").isZero();
        assertThat(call(c, null, "blockThrows", new Object(), 1)).isEqualTo(1 + 2);
        assertThatThrownBy(() -> call(c, null, "blockThrows", new Object(), 5))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(Preempt.monitorDepth()).as("after an exception out of two synchronized blocks").isZero();
    }

    @Test
    void pointsSitBeforeBackwardBranchesOnlyAndNeverInTheStaticInitialiser() throws Exception {
        byte[] bytes = CallSiteTransformer.rewrite(null, original(), false, false, true, true);
        List<String> calls = new ArrayList<>();
        new ClassReader(bytes).accept(new ClassVisitor(Opcodes.ASM9) {
            @Override
            public MethodVisitor visitMethod(int access, String name, String desc, String sig, String[] ex) {
                return new MethodVisitor(Opcodes.ASM9) {
                    @Override
                    public void visitMethodInsn(int op, String owner, String n, String d, boolean itf) {
                        if (owner.equals(BackEdgeRewrite.PREEMPT) && !n.equals("monitorDepth")) {
                            calls.add(name + ":" + n);
                        }
                    }
                };
            }
        }, 0);
        // loops: the for, the while and the do-while each close with one backward branch
        assertThat(calls.stream().filter(s -> s.equals("loops:backEdge"))).hasSize(3);
        assertThat(calls.stream().filter(s -> s.equals("switchInLoop:backEdge"))).hasSize(1);
        assertThat(calls).doesNotContain("<clinit>:backEdge").contains("<clinit>:entered", "<clinit>:exited");
        // blockThrows: two monitorenters; javac exits each on the normal path and in its handler
        assertThat(calls.stream().filter(s -> s.equals("blockThrows:entered"))).hasSize(2);
        assertThat(calls.stream().filter(s -> s.equals("blockThrows:exited"))).hasSize(4);
        assertThat(CallSiteTransformer.rewrite(null, original(), false, false, false, true))
                .as("without points nothing changes in this class").isNull();
    }
}
