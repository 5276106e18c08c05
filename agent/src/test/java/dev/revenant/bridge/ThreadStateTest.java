package dev.revenant.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * Virtual thread ids: what a parent decides at {@code start()} is what the child gets, and
 * {@code ThreadState.create} (which runs inside a thread's first {@code ThreadLocal.get}) calls
 * no JDK code whose hash call sites the agent instruments.
 */
class ThreadStateTest {

    @Test
    void childrenGetTheIdsTheirParentDecidedInStartOrder() throws Exception {
        long parent = ThreadState.current().vid;
        AtomicLong first = new AtomicLong();
        AtomicLong second = new AtomicLong();
        Thread a = new Thread(() -> first.set(ThreadState.current().vid), "child-a");
        Thread b = new Thread(() -> second.set(ThreadState.current().vid), "child-b");
        ThreadState.starting(a);
        ThreadState.starting(b);
        b.start(); // the later sibling runs first: ids follow start() calls, not timing
        b.join();
        a.start();
        a.join();
        int n = 1;
        while (n < 100_000 && ThreadState.mix(parent, n) != first.get()) {
            n++;
        }
        assertThat(first.get()).as("first child's id").isEqualTo(ThreadState.mix(parent, n));
        assertThat(second.get()).as("second child's id").isEqualTo(ThreadState.mix(parent, n + 1));
    }

    @Test
    void manyUnclaimedIdsOfEndedThreadsAreDroppedNotKeptForever() throws Exception {
        // threads that end without ever asking for their state leave their entry behind
        for (int i = 0; i < 2_000; i++) {
            Thread t = new Thread(() -> { }, "quiet-" + i);
            ThreadState.starting(t);
            t.start();
            t.join();
        }
        Thread late = new Thread(() -> { }, "late");
        long[] seen = new long[1];
        Thread probe = new Thread(() -> seen[0] = ThreadState.current().vid, "probe-2");
        ThreadState.starting(late);
        ThreadState.starting(probe);
        probe.start();
        probe.join();
        assertThat(seen[0]).isGreaterThan(1);
        assertThat(pendingCapacity()).as("capacity of the pending table").isLessThan(2_000);
    }

    private static int pendingCapacity() throws Exception {
        java.lang.reflect.Field f = ThreadState.class.getDeclaredField("PENDING");
        f.setAccessible(true);
        Object p = f.get(null);
        java.lang.reflect.Field ids = p.getClass().getDeclaredField("ids");
        ids.setAccessible(true);
        return ((long[]) ids.get(p)).length;
    }

    /**
     * A JDK collection in {@code create} (it once used a ConcurrentHashMap) can stamp an identity
     * hash, whose per-thread state asks for the thread's ThreadState again: the nested call took
     * the parent's id and the outer one, the value kept, fell back to a name-derived id.
     */
    @Test
    void creatingAThreadsStateCallsNoJdkCollection() throws Exception {
        List<String> calls = new ArrayList<>();
        for (Class<?> c : List.of(ThreadState.class, Class.forName(ThreadState.class.getName() + "$Pending"))) {
            try (InputStream in = ThreadStateTest.class.getClassLoader()
                    .getResourceAsStream(c.getName().replace('.', '/') + ".class")) {
                byte[] bytes = in.readAllBytes();
                new ClassReader(bytes).accept(new ClassVisitor(Opcodes.ASM9) {
                    @Override
                    public MethodVisitor visitMethod(int access, String name, String desc, String sig, String[] ex) {
                        boolean watched = c == ThreadState.class ? name.equals("create") || name.equals("starting")
                                : !name.equals("<init>");
                        return !watched ? null : new MethodVisitor(Opcodes.ASM9) {
                            @Override
                            public void visitMethodInsn(int op, String owner, String n, String d, boolean itf) {
                                if (owner.startsWith("java/util/") && !owner.equals("java/util/Arrays")) {
                                    calls.add(c.getSimpleName() + "." + name + " -> " + owner + "." + n);
                                }
                            }
                        };
                    }
                }, 0);
            }
        }
        assertThat(calls).isEmpty();
    }
}
