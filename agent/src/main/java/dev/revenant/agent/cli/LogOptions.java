package dev.revenant.agent.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** The {@code --log DIR} option shared by the commands that read a log. */
final class LogOptions {
    @Option(names = "--log", required = true, paramLabel = "DIR", description = "Log directory to read.")
    Path log;
}
