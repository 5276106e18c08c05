package dev.revenant.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A bank: N accounts in a {@link ConcurrentHashMap} of {@link AtomicLong} balances, transfers run by
 * a pool of 4 workers, one thread per client connection handing its requests to the pool and
 * waiting for the answer. A transfer takes its money with a compare-and-set loop on the source and
 * adds it to the target, under the read side of a read-write lock (transfers run in parallel); an
 * audit takes the write side, so it sees no transfer half done and the total it reports is always
 * the opening total. Which transfer a worker gets first, which of two racing withdrawals finds the
 * money, and the number each transfer is given, all depend on how the threads interleave.
 *
 * <p>Line protocol, one reply line per request:
 * {@code XFER from to amount -> OK n | NOFUNDS | ERR ...} ({@code n}: this transfer's number, from 1),
 * {@code BAL account -> BAL balance}, {@code AUDIT -> TOTAL total transfers n}, {@code PING -> PONG}.
 *
 * <p>Usage: {@code java -cp demo-apps.jar dev.revenant.demo.BankServer <port> [accounts] [opening balance]}
 * (defaults 16 and 1000); prints {@code bank listening on <port>} once it is ready.
 */
public final class BankServer {
    private static final int MAX_LINE = 4096;

    private final int accounts;
    private final ConcurrentHashMap<Integer, AtomicLong> balances = new ConcurrentHashMap<>();
    private final AtomicLong transfers = new AtomicLong();
    private final ReentrantReadWriteLock audit = new ReentrantReadWriteLock();
    private final ExecutorService workers = Executors.newFixedThreadPool(4);

    private BankServer(int accounts, long opening) {
        this.accounts = accounts;
        for (int i = 0; i < accounts; i++) {
            balances.put(i, new AtomicLong(opening));
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 3) {
            System.err.println("usage: BankServer <port> [accounts] [opening balance]");
            System.exit(2);
        }
        int accounts = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        long opening = args.length > 2 ? Long.parseLong(args[2]) : 1000;
        new BankServer(accounts, opening).serve(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                Integer.parseInt(args[0])));
    }

    private void serve(InetSocketAddress address) throws IOException {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(address);
            System.out.println("bank listening on " + server.getLocalPort());
            System.out.flush();
            int n = 0;
            while (true) {
                Socket s = server.accept();
                new Thread(() -> serveClient(s), "bank-conn-" + n++).start();
            }
        }
    }

    private void serveClient(Socket s) {
        try (s) {
            s.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.length() > MAX_LINE) {
                    return;
                }
                String request = line;
                Future<String> answer = workers.submit(() -> execute(request));
                out.write((answer.get() + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException | RuntimeException | ExecutionException e) {
            // a client that resets or vanishes loses its connection, nothing more
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String execute(String line) {
        String[] t = line.split(" ", -1);
        try {
            return switch (t[0] + "/" + t.length) {
                case "XFER/4" -> transfer(account(t[1]), account(t[2]), Long.parseLong(t[3]));
                case "BAL/2" -> "BAL " + balances.get(account(t[1])).get();
                case "AUDIT/1" -> audit();
                case "PING/1" -> "PONG";
                default -> "ERR unknown command";
            };
        } catch (IllegalArgumentException e) {
            return "ERR " + e.getMessage();
        }
    }

    private int account(String text) {
        int a = Integer.parseInt(text);
        if (a < 0 || a >= accounts) {
            throw new IllegalArgumentException("no account " + a);
        }
        return a;
    }

    private String transfer(int from, int to, long amount) {
        if (amount <= 0 || from == to) {
            return "ERR a transfer moves a positive amount between two accounts";
        }
        audit.readLock().lock();
        try {
            AtomicLong source = balances.get(from);
            while (true) {
                long was = source.get();
                if (was < amount) {
                    return "NOFUNDS";
                }
                if (source.compareAndSet(was, was - amount)) {
                    break;
                }
            }
            balances.get(to).addAndGet(amount);
            return "OK " + transfers.incrementAndGet();
        } finally {
            audit.readLock().unlock();
        }
    }

    private String audit() {
        audit.writeLock().lock();
        try {
            long total = 0;
            for (AtomicLong b : balances.values()) {
                total += b.get();
            }
            return "TOTAL " + total + " transfers " + transfers.get();
        } finally {
            audit.writeLock().unlock();
        }
    }
}
