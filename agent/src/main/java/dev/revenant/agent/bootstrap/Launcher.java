package dev.revenant.agent.bootstrap;

import java.lang.reflect.InvocationTargetException;
import java.nio.file.Path;

/**
 * {@code Main-Class} of revenant-agent.jar: {@code java -jar revenant-agent.jar ...} runs the CLI,
 * {@code dev.revenant.agent.cli.RevenantCli.main(String[])}, inside an {@link AgentClassLoader}
 * over the same jar (which is also the thread's context class loader). {@code System.exit} stays
 * in {@code RevenantCli.main}.
 *
 * <p>java.base access: the jar's {@code Add-Exports}/{@code Add-Opens} manifest attributes export
 * and open the packages to ALL-UNNAMED, i.e. to every unnamed module, which includes the agent
 * loader's; {@code REVENANT_DEBUG_STARTUP=1} prints the check. Run from a classes directory (IDE)
 * the CLI is called through this class's own loader.
 */
public final class Launcher {

    static final String CLI_CLASS = "dev.revenant.agent.cli.RevenantCli";

    private Launcher() {
    }

    public static void main(String[] args) throws Throwable {
        StartupTimer timer = new StartupTimer("launcher");
        Path jar = AgentClassLoader.jarOf(Launcher.class);
        ClassLoader loader = jar == null ? null : AgentClassLoader.open(jar, false);
        if (loader == null) {
            loader = Launcher.class.getClassLoader();
        }
        timer.phase("agent loader");
        if (StartupTimer.enabled()) {
            Module base = Object.class.getModule();
            Module m = loader.getUnnamedModule();
            StringBuilder sb = new StringBuilder("revenant startup: java.base access of the agent loader's module:");
            for (String pkg : ModuleOpener.EXPORTS) {
                sb.append(" exported ").append(pkg).append('=').append(base.isExported(pkg, m));
            }
            for (String pkg : ModuleOpener.OPENS) {
                sb.append(" open ").append(pkg).append('=').append(base.isOpen(pkg, m));
            }
            System.err.println(sb);
            timer.report(loader);
        }
        Thread.currentThread().setContextClassLoader(loader);
        try {
            Class.forName(CLI_CLASS, true, loader).getMethod("main", String[].class).invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }
}
