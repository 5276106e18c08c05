package dev.revenant.it;

import java.nio.file.Path;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * demo-apps' SelectorKeysServer: one thread, the classic {@code selectedKeys()} iterator (each key
 * removed before it is handled), a shared Random for write ids. The same scenario as
 * {@link ThreadedKvRecoveryIT}: 4 clients on 4 connections at once, kill -9 at a seeded random
 * point, recover (live said once, after the whole log was replayed), every acknowledged SET there
 * with its value and id, new requests served. Run under the serial scheduler (the default), whose
 * switches here are main's alone.
 */
@Tag("scheduler")
class SelectorKeysIT {
    @TempDir
    Path tmp;

    @Test
    void everyAcknowledgedSetSurvivesKillAndRecovery() throws Exception {
        ThreadedKvRecoveryIT.run("dev.revenant.demo.SelectorKeysServer", tmp, "selector-keys", 1);
    }

    /**
     * Replays the first recovered epoch, stand-ins included. Failed 2 of 2 runs while the app's
     * close of a stand-in first hashed {@code SO_LINGER} on main in replay only (see
     * docs/ARCHITECTURE.md, "The JDK's socket option constants are hashed before main").
     */
    @Test
    void everyAcknowledgedSetSurvivesTwoRecoveriesInOneLog() throws Exception {
        ThreadedKvRecoveryIT.run("dev.revenant.demo.SelectorKeysServer", tmp, "selector-keys-twice", 2);
    }
}
