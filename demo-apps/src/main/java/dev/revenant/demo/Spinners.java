package dev.revenant.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Threads that wait for each other by spinning, with no blocking call and no spin hint in the
 * loop: under a scheduler that lets one thread run at a time and switches only where a thread
 * blocks, every one of these would hang. Revenant's serial scheduler preempts at loop back-edges
 * of app code, so they finish, and a replay must print exactly what the recording printed.
 *
 * <ol>
 *   <li>main spins on a volatile flag that a worker sets after a sleep: how many times main went
 *       round is a race;</li>
 *   <li>3 threads take a compare-and-set lock of their own by spinning on it (no hint), and
 *       sometimes sleep while they hold it: the order of the takes is a race, the count it guards is
 *       exact;</li>
 *   <li>2 threads run long loops inside {@code synchronized} blocks on one monitor, and a third
 *       counts without a lock: the guarded count is exact, the unguarded one shows where the
 *       threads took turns.</li>
 * </ol>
 *
 * Usage: {@code Spinners [rounds]} (default 30).
 */
public final class Spinners {
    static volatile boolean ready;
    static final AtomicBoolean lock = new AtomicBoolean();
    static int guarded; // guarded by the spin lock
    static final List<String> takes = new ArrayList<>(); // guarded by the spin lock
    static final Object monitor = new Object();
    static long inMonitor; // guarded by monitor
    static long loose; // not guarded: written by one thread, read by others
    static final List<String> turns = new ArrayList<>(); // guarded by monitor

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;

        // 1. A spin on a flag.
        Thread setter = new Thread(() -> {
            try {
                Thread.sleep(3);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ready = true;
        }, "setter");
        setter.start();
        long spins = 0;
        while (!ready) {
            spins++;
        }
        setter.join();
        System.out.println("flag seen after " + spins + " spins");

        // 2. A compare-and-set lock taken by spinning.
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int id = i;
            threads.add(new Thread(() -> {
                for (int r = 0; r < rounds; r++) {
                    while (!lock.compareAndSet(false, true)) {
                        // spin, no hint
                    }
                    try {
                        guarded++;
                        takes.add("cas-" + id);
                        if ((r + id) % 7 == 0) {
                            Thread.sleep(1); // holding the lock: the others spin meanwhile
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        lock.set(false);
                    }
                }
            }, "cas-" + i));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("spin-lock count " + guarded + " of " + 3 * rounds);
        System.out.println("takes " + String.join(" ", takes));

        // 3. Long loops inside synchronized blocks, and one thread counting without a lock.
        threads.clear();
        for (int i = 0; i < 2; i++) {
            int id = i;
            threads.add(new Thread(() -> {
                for (int r = 0; r < rounds; r++) {
                    synchronized (monitor) {
                        for (int n = 0; n < 20_000; n++) {
                            inMonitor++;
                        }
                        turns.add("sync-" + id + "@" + loose / 10_000);
                    }
                }
            }, "sync-" + i));
        }
        Thread counter = new Thread(() -> {
            for (int n = 0; n < 2_000_000; n++) {
                loose++;
            }
        }, "loose");
        threads.add(counter);
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("monitor count " + inMonitor + " of " + 2L * rounds * 20_000);
        System.out.println("turns " + String.join(" ", turns));
        System.out.println("spinners done at " + System.currentTimeMillis() % 1000);
    }
}
