package dev.revenant.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link IdentityHashes} in-process, without the agent: this test calls the hooks directly, as the
 * rewritten call sites would. Needs {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED}
 * (surefire's argLine; the class is then in the class path's unnamed module).
 */
class IdentityHashesTest {

    enum Colour { RED, GREEN, BLUE }

    /** Overrides hashCode(): a virtual hashCode() call site never stamps it. */
    static final class Point {
        final int x;

        Point(int x) {
            this.x = x;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Point && ((Point) o).x == x;
        }

        @Override
        public int hashCode() {
            return x;
        }
    }

    @BeforeAll
    static void install() {
        if (!IdentityHashes.install()) {
            fail("IdentityHashes.install() returned false: " + IdentityHashes.status()
                + " -- surefire must run with --add-exports java.base/jdk.internal.misc=ALL-UNNAMED");
        }
        assertThat(IdentityHashes.enabled()).isTrue();
    }

    /** Stamps {@code n} fresh objects after setting the key; returns their identity hashes. */
    private static List<Integer> batch(long key, int n, List<Object> keep) {
        IdentityHashes.setThreadKey(key);
        List<Integer> hashes = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Object o = new Object();
            IdentityHashes.stampIdentity(o);
            hashes.add(System.identityHashCode(o));
            if (keep != null) {
                keep.add(o);
            }
        }
        return hashes;
    }

    @Test
    void sameKeyAndOrderGiveSameHashesForFreshObjects() {
        List<Integer> first = batch(42, 10_000, null);
        List<Integer> second = batch(42, 10_000, null);
        assertThat(second).isEqualTo(first);
        assertThat(new HashSet<>(first)).as("well spread").hasSizeGreaterThan(9_990);
        assertThat(first).doesNotContain(0);

        assertThat(batch(43, 10_000, null)).as("another key, another sequence").isNotEqualTo(first);
        assertThat(first.get(0)).isEqualTo(IdentityHashes.hashForKey(42, 1));
        assertThat(first.get(9_999)).isEqualTo(IdentityHashes.hashForKey(42, 10_000));
    }

    @Test
    void objectHashCodeAndIdentityHashCodeSeeTheStamp() {
        IdentityHashes.setThreadKey(7);
        Object o = new Object();
        IdentityHashes.stamp(o); // the virtual hashCode() hook: Object's hashCode is the identity one
        int expected = IdentityHashes.hashForKey(7, 1);
        assertThat(o.hashCode()).isEqualTo(expected);
        assertThat(System.identityHashCode(o)).isEqualTo(expected);
        assertThat(IdentityHashes.threadCounter()).isEqualTo(1);
    }

    @Test
    void stampsSurviveGc() {
        List<Object> kept = new ArrayList<>();
        List<Integer> hashes = batch(11, 50_000, kept);
        List<byte[]> garbage = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            garbage.add(new byte[10_000]);
            if (garbage.size() > 200) {
                garbage.clear();
            }
        }
        System.gc();
        for (int i = 0; i < kept.size(); i++) {
            assertThat(System.identityHashCode(kept.get(i))).isEqualTo(hashes.get(i));
        }
    }

    @Test
    void anAlreadyHashedObjectIsNeverChanged() {
        IdentityHashes.setThreadKey(9);
        Object o = new Object();
        int vmHash = System.identityHashCode(o);
        long stampedBefore = IdentityHashes.stamped();
        IdentityHashes.stamp(o);
        IdentityHashes.stampIdentity(o);
        IdentityHashes.stampSuper(o, Object.class);
        assertThat(System.identityHashCode(o)).isEqualTo(vmHash);
        assertThat(o.hashCode()).isEqualTo(vmHash);
        assertThat(IdentityHashes.threadCounter()).as("no counter value used").isZero();
        assertThat(IdentityHashes.stamped()).isEqualTo(stampedBefore);

        Object s = new Object();
        IdentityHashes.stampIdentity(s);
        int first = System.identityHashCode(s);
        IdentityHashes.setThreadKey(1234);
        IdentityHashes.stampIdentity(s);
        assertThat(System.identityHashCode(s)).as("a stamp is never overwritten").isEqualTo(first);
    }

    @Test
    void zeroNeverOccurs() {
        for (long key = 0; key < 64; key++) {
            for (long counter = 0; counter < 20_000; counter++) {
                int h = IdentityHashes.hashForKey(key, counter);
                if (h == 0 || h < 0) {
                    fail("hash " + h + " for key " + key + ", counter " + counter);
                }
            }
        }
        assertThat(IdentityHashes.fit(0L)).isNotZero();
        assertThat(IdentityHashes.fit(1L)).isNotZero();
        assertThat(IdentityHashes.fit(0x7FFFFFFFL)).isNotZero();
        assertThat(IdentityHashes.fit(-1L)).isEqualTo(0x7FFFFFFF);
    }

    @Test
    void hashSetOrderOfStampedObjectsIsTheSameInTwoBatches() {
        assertThat(hashSetOrder(5)).isEqualTo(hashSetOrder(5));
    }

    /** Insertion indexes of 500 stamped objects in HashSet iteration order. */
    private static List<Integer> hashSetOrder(long key) {
        List<Object> objects = new ArrayList<>();
        batch(key, 500, objects);
        Set<Object> set = new HashSet<>(objects);
        List<Integer> order = new ArrayList<>();
        for (Object o : set) {
            for (int i = 0; i < objects.size(); i++) {
                if (objects.get(i) == o) {
                    order.add(i);
                }
            }
        }
        return order;
    }

    @Test
    void eachThreadFollowsItsOwnKey() throws Exception {
        List<Integer> a = inThread(77);
        List<Integer> b = inThread(77);
        assertThat(b).isEqualTo(a);
        assertThat(inThread(78)).isNotEqualTo(a);
    }

    private static List<Integer> inThread(long key) throws InterruptedException {
        AtomicReference<List<Integer>> out = new AtomicReference<>();
        Thread t = new Thread(() -> out.set(batch(key, 1_000, null)));
        t.start();
        t.join();
        return out.get();
    }

    @Test
    void lockedObjectsAreSkippedAndCounted() {
        IdentityHashes.setThreadKey(3);
        Object lock = new Object();
        long skipped = IdentityHashes.skippedLocked();
        synchronized (lock) {
            IdentityHashes.stampIdentity(lock);
        }
        assertThat(IdentityHashes.skippedLocked()).isEqualTo(skipped + 1);
        assertThat(IdentityHashes.threadCounter()).as("no counter value used").isZero();
        IdentityHashes.stampIdentity(lock); // unlocked now
        assertThat(System.identityHashCode(lock)).isEqualTo(IdentityHashes.hashForKey(3, 1));
    }

    @Test
    void classesWithTheirOwnHashCodeAreStampedOnlyForIdentityRequests() {
        IdentityHashes.setThreadKey(4);
        Point p = new Point(5);
        IdentityHashes.stamp(p);
        IdentityHashes.stamp("not interned " + System.nanoTime());
        assertThat(IdentityHashes.threadCounter()).as("virtual hashCode() of an overriding class").isZero();
        IdentityHashes.stampIdentity(p);
        assertThat(System.identityHashCode(p)).isEqualTo(IdentityHashes.hashForKey(4, 1));
        assertThat(p.hashCode()).isEqualTo(5);

        Point q = new Point(6);
        IdentityHashes.stampSuper(q, Point.class); // super.hashCode() through Point: Point's own
        IdentityHashes.stampSuper(q, Object.class); // super.hashCode() resolving to Object's
        assertThat(System.identityHashCode(q)).isEqualTo(IdentityHashes.hashForKey(4, 2));
    }

    @Test
    void stringsEnumsAndClassesGetContentDerivedHashes() {
        IdentityHashes.setThreadKey(6);
        String a = new String("same content");
        String b = new String("same content");
        IdentityHashes.stampIdentity(a);
        IdentityHashes.setThreadKey(600);
        IdentityHashes.stampIdentity(b);
        assertThat(System.identityHashCode(b)).isEqualTo(System.identityHashCode(a));

        for (Colour c : Colour.values()) {
            IdentityHashes.stamp(c);
        }
        Set<Integer> distinct = new HashSet<>();
        for (Colour c : Colour.values()) {
            distinct.add(c.hashCode());
        }
        assertThat(distinct).hasSize(3);
        assertThat(IdentityHashes.threadCounter()).as("content-derived: no counter").isZero();

        // A class's mirror: derived from the name, whichever thread asks first (this one may
        // already be hashed by the VM when it linked the class; a nested class usually is not).
        class Local { }
        IdentityHashes.stamp(Local.class);
        assertThat(IdentityHashes.threadCounter()).isZero();
    }

    @Test
    void pausedThreadsDoNotConsumeTheirCounter() {
        IdentityHashes.setThreadKey(8);
        boolean was = IdentityHashes.pauseThread();
        try {
            Object o = new Object();
            IdentityHashes.stampIdentity(o);
            assertThat(System.identityHashCode(o)).isNotZero();
        } finally {
            IdentityHashes.resumeThread(was);
        }
        assertThat(IdentityHashes.threadCounter()).isZero();
        Object p = new Object();
        IdentityHashes.stampIdentity(p);
        assertThat(System.identityHashCode(p)).isEqualTo(IdentityHashes.hashForKey(8, 1));
    }

    @Test
    void nullIsIgnored() {
        IdentityHashes.stamp(null);
        IdentityHashes.stampIdentity(null);
        IdentityHashes.stampSuper(null, Object.class);
    }

    @Test
    void setThreadKeyAlsoSeedsTheVmGenerator() {
        if (!IdentityHashes.vmStreamSeeding()) {
            System.err.println("VM generator seeding unavailable here: " + IdentityHashes.status());
            return;
        }
        vmHashes(21); // warm-up: anything linked for the first time links now
        List<Integer> first = vmHashes(21);
        List<Integer> second = vmHashes(21);
        assertThat(second).as("hashes the VM itself assigns after setThreadKey").isEqualTo(first);
        assertThat(vmHashes(22)).isNotEqualTo(first);
    }

    @Test
    void aStampResynchronisesTheVmGenerator() {
        if (!IdentityHashes.vmStreamSeeding()) {
            return;
        }
        vmHashesAfterAStamp(31, 0); // warm-up
        List<Integer> clean = vmHashesAfterAStamp(31, 0);
        List<Integer> disturbed = vmHashesAfterAStamp(31, 5);
        assertThat(disturbed).as("5 extra VM hashes before the stamp change nothing after it").isEqualTo(clean);
    }

    /** setThreadKey, {@code extra} VM-assigned hashes, one stamp, then 50 VM-assigned hashes. */
    private static List<Integer> vmHashesAfterAStamp(long key, int extra) {
        Object[] objects = new Object[extra + 51];
        for (int i = 0; i < objects.length; i++) {
            objects[i] = new Object();
        }
        int[] hashes = new int[50];
        IdentityHashes.setThreadKey(key);
        for (int i = 0; i < extra; i++) {
            System.identityHashCode(objects[i]);
        }
        IdentityHashes.stampIdentity(objects[extra]);
        for (int i = 0; i < 50; i++) {
            hashes[i] = System.identityHashCode(objects[extra + 1 + i]);
        }
        List<Integer> out = new ArrayList<>();
        for (int h : hashes) {
            out.add(h);
        }
        return out;
    }

    /** Identity hashes assigned by the VM (no stamp) right after setThreadKey. */
    private static List<Integer> vmHashes(long key) {
        Object[] objects = new Object[100];
        for (int i = 0; i < objects.length; i++) {
            objects[i] = new Object();
        }
        int[] hashes = new int[objects.length];
        IdentityHashes.setThreadKey(key);
        for (int i = 0; i < objects.length; i++) {
            hashes[i] = System.identityHashCode(objects[i]);
        }
        List<Integer> out = new ArrayList<>();
        for (int h : hashes) {
            out.add(h);
        }
        return out;
    }
}
