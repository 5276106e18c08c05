package dev.revenant.log;

import java.nio.file.Path;

/**
 * Something a reader found that is not a plain record.
 *
 * @param severity     {@link Severity#DAMAGE} means data that should be there is not (exit 1 in
 *                     {@code verify}); {@link Severity#TORN_TAIL} is the normal end of a log cut by
 *                     a crash: records that were never reported stable
 * @param position     the log position concerned (the first one missing or damaged); -1 if unknown
 * @param segment      segment file, or null when the issue concerns the whole log
 * @param offset       byte offset in the segment, or -1
 * @param droppedBytes bytes of the segment that were not read as records (torn tails)
 * @param message      one line saying what is wrong
 */
public record LogIssue(Severity severity, long position, Path segment, long offset, long droppedBytes,
                       String message) {

    public enum Severity { DAMAGE, TORN_TAIL }

    public boolean isDamage() {
        return severity == Severity.DAMAGE;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(severity == Severity.DAMAGE ? "damage" : "torn tail");
        if (position >= 0) {
            sb.append(" at position ").append(position);
        }
        if (segment != null) {
            sb.append(" (").append(segment.getFileName());
            if (offset >= 0) {
                sb.append(" offset ").append(offset);
            }
            sb.append(')');
        }
        sb.append(": ").append(message);
        return sb.toString();
    }
}
