package dev.revenant.it;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * demo-apps' BankServer (a thread per connection handing transfers to a pool of 4 workers;
 * {@code ConcurrentHashMap} of {@code AtomicLong} balances, compare-and-set withdrawals, a read-write
 * lock for the audit) recorded under the serial scheduler while 4 clients on 4 connections move money
 * between 16 accounts at once, killed with SIGKILL at a seeded random point, recovered with the real
 * CLI, twice in one log. After each recovery: the audit total is the opening total; the bank counts
 * every acknowledged transfer and at most the ones in flight at the kill; every account's balance is
 * the opening balance plus the acknowledged transfers plus exactly those in-flight ones the count
 * says took effect; every acknowledged transfer number is distinct and within the count. Then it
 * serves new transfers from 4 connections again, checked the same way.
 */
@Tag("scheduler")
class BankRecoveryIT {
    static final int CLIENTS = 4;
    static final int ACCOUNTS = 16;
    static final long OPENING = 1000;

    @TempDir
    Path tmp;

    record Transfer(int from, int to, long amount) {}

    /** What the clients were told, and what was in flight when the server died. */
    static final class Ledger {
        final Queue<Transfer> applied = new ConcurrentLinkedQueue<>();
        final Set<Long> numbers = ConcurrentHashMap.newKeySet();
        final Map<Integer, Transfer> inflight = new ConcurrentHashMap<>();
        final AtomicLong replies = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
    }

    static void client(int id, int port, Ledger l, long seed, AtomicBoolean stop, List<Throwable> failures) {
        Random rnd = new Random(seed);
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            while (!stop.get()) {
                if (rnd.nextInt(10) == 0) {
                    String r = c.call("AUDIT");
                    if (!r.startsWith("TOTAL " + ACCOUNTS * OPENING + " transfers ")) {
                        throw new AssertionError("client " + id + ": AUDIT = " + r);
                    }
                } else {
                    int from = rnd.nextInt(ACCOUNTS);
                    int to = (from + 1 + rnd.nextInt(ACCOUNTS - 1)) % ACCOUNTS;
                    Transfer t = new Transfer(from, to, 1 + rnd.nextInt(120));
                    l.inflight.put(id, t);
                    String r = c.call("XFER " + from + " " + to + " " + t.amount());
                    if (r.equals("NOFUNDS")) {
                        l.refused.incrementAndGet();
                    } else if (r.startsWith("OK ")) {
                        long n = Long.parseLong(r.substring(3));
                        if (!l.numbers.add(n)) {
                            throw new AssertionError("client " + id + ": transfer number " + n + " given twice");
                        }
                        l.applied.add(t);
                    } else {
                        throw new AssertionError("client " + id + ": XFER reply " + r);
                    }
                    l.inflight.remove(id);
                }
                l.replies.incrementAndGet();
            }
        } catch (IOException e) {
            // the server died under us: the transfer in flight stays uncertain
        } catch (Throwable e) {
            failures.add(e);
        }
    }

    static void load(int port, Ledger l, Random rnd, Runnable until) throws Exception {
        ClientThreads.run(CLIENTS, "bank-client", rnd, (id, seed, stop, failures) -> client(id, port, l, seed, stop, failures),
                until);
    }

    /**
     * The bank against the ledger; the in-flight transfers that took effect join it. Returns what
     * does not match (empty: all is well).
     */
    static List<String> check(int port, Ledger l) throws IOException {
        List<String> problems = new ArrayList<>();
        long[] balance = new long[ACCOUNTS];
        long count;
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            String audit = c.call("AUDIT");
            String[] a = audit.split(" ");
            if (a.length != 4 || !a[0].equals("TOTAL") || Long.parseLong(a[1]) != ACCOUNTS * OPENING) {
                problems.add("AUDIT = " + audit + ", the opening total is " + ACCOUNTS * OPENING);
                return problems;
            }
            count = Long.parseLong(a[3]);
            for (int i = 0; i < ACCOUNTS; i++) {
                balance[i] = Long.parseLong(c.call("BAL " + i).substring(4));
            }
        }
        long[] expected = new long[ACCOUNTS];
        java.util.Arrays.fill(expected, OPENING);
        for (Transfer t : l.applied) {
            expected[t.from()] -= t.amount();
            expected[t.to()] += t.amount();
        }
        List<Transfer> uncertain = new ArrayList<>(l.inflight.values());
        long extra = count - l.applied.size();
        if (extra < 0 || extra > uncertain.size()) {
            problems.add("the bank counts " + count + " transfers; " + l.applied.size() + " were acknowledged and "
                    + uncertain.size() + " in flight");
            return problems;
        }
        for (long n : l.numbers) {
            if (n < 1 || n > count) {
                problems.add("acknowledged transfer number " + n + " is outside 1.." + count);
            }
        }
        // Which of the in-flight transfers took effect: a subset of the size the count says.
        List<Transfer> took = null;
        for (int mask = 0; mask < 1 << uncertain.size() && took == null; mask++) {
            if (Integer.bitCount(mask) != extra) {
                continue;
            }
            long[] e = expected.clone();
            List<Transfer> chosen = new ArrayList<>();
            for (int i = 0; i < uncertain.size(); i++) {
                if ((mask & 1 << i) != 0) {
                    Transfer t = uncertain.get(i);
                    e[t.from()] -= t.amount();
                    e[t.to()] += t.amount();
                    chosen.add(t);
                }
            }
            if (java.util.Arrays.equals(e, balance)) {
                took = chosen;
            }
        }
        if (took == null) {
            problems.add("balances " + java.util.Arrays.toString(balance) + " are not the acknowledged transfers ("
                    + java.util.Arrays.toString(expected) + ") plus " + extra + " of the in-flight " + uncertain);
            return problems;
        }
        l.applied.addAll(took);
        l.inflight.clear();
        return problems;
    }

    @Test
    void theBankBalancesAndEveryAcknowledgedTransferSurviveTwoRecoveries() throws Exception {
        long seed = KillRecoverCycles.seed("bank");
        Random rnd = new Random(seed);
        Ledger l = new Ledger();
        KillRecoverCycles.App app = KillRecoverCycles.startDemo("bank", tmp, "dev.revenant.demo.BankServer",
                "bank listening on ", l.replies);
        KillRecoverCycles.run(app, 2, seed, rnd, 20, 400, (tag, until) -> load(app.port, l, rnd, until),
                () -> check(app.port, l));
    }
}
