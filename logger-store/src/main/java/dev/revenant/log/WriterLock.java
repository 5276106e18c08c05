package dev.revenant.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The OS lock that makes a writer the only one of its log directory, on a file that holds the
 * live writer's pid (so that a refused second writer can say who holds the log).
 */
record WriterLock(FileChannel channel, FileLock lock) {
    /** Takes the lock and writes this process's pid into it; a log held by another writer is refused in one line. */
    static WriterLock acquire(Path d, Path lockPath) throws IOException {
        FileChannel lockChannel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        LogDirectory.restrictFile(lockPath);
        FileLock lock;
        try {
            lock = lockChannel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            lockChannel.close();
            throw e;
        }
        if (lock == null) {
            String holder = readHolder(lockChannel);
            lockChannel.close();
            throw new LogWriterException("log " + d + " is already being written by another writer" + holder
                    + "; only one process may write a log directory — stop it or use another directory");
        }
        try {
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            lockChannel.truncate(0);
            lockChannel.write(ByteBuffer.wrap(pid), 0);
        } catch (IOException | RuntimeException e) {
            lock.release();
            lockChannel.close();
            throw e;
        }
        return new WriterLock(lockChannel, lock);
    }

    private static String readHolder(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            int n = ch.read(b, 0);
            String pid = n > 0 ? new String(b.array(), 0, n, StandardCharsets.US_ASCII).trim() : "";
            return pid.isEmpty() ? "" : " (pid " + pid + ")";
        } catch (IOException e) {
            return "";
        }
    }
}
