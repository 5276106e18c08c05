package dev.revenant.demo;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A counter behind the JDK's own {@code com.sun.net.httpserver.HttpServer}, with its default
 * executor: every request is handled on the server's single dispatcher thread. Knows nothing of
 * Revenant.
 *
 * <pre>
 * POST /incr  -> 200 "n id"   the counter after adding one, and a fresh random id
 * GET  /get   -> 200 "n id"   the counter and the id of its last increment
 * </pre>
 *
 * Usage: {@code java -cp demo-apps.jar dev.revenant.demo.HttpCounter <port>} (0 picks a free port);
 * prints {@code http listening on <port>} once it serves.
 */
public final class HttpCounter {
    private final Random random = new Random();
    private long counter;
    private String lastId = "-";

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: HttpCounter <port>");
            System.exit(2);
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                Integer.parseInt(args[0])), 0);
        HttpCounter app = new HttpCounter();
        server.createContext("/incr", app::incr);
        server.createContext("/get", app::get);
        server.start();
        System.out.println("http listening on " + server.getAddress().getPort());
        System.out.flush();
    }

    private void incr(HttpExchange ex) throws IOException {
        ex.getRequestBody().readAllBytes();
        counter++;
        lastId = String.format("%016x", random.nextLong());
        respond(ex, counter + " " + lastId + "\n");
    }

    private void get(HttpExchange ex) throws IOException {
        ex.getRequestBody().readAllBytes();
        respond(ex, counter + " " + lastId + "\n");
    }

    private static void respond(HttpExchange ex, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
