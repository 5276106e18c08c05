package dev.revenant.log;

import java.io.IOException;

/** The log holds damage where records were expected; carries the issue with its position. */
public class LogCorruptException extends IOException {
    private final transient LogIssue issue;

    public LogCorruptException(LogIssue issue) {
        super(issue.toString());
        this.issue = issue;
    }

    public LogIssue issue() {
        return issue;
    }
}
