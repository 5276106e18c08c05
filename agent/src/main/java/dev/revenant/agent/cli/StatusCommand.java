package dev.revenant.agent.cli;

import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code revenant status}: the counters of a running agent, read over JMX from its MBean. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Attaches to a running JVM that has the Revenant agent (recording, replaying or recovered) "
                + "through the JDK's attach mechanism, starts its local JMX connector if it is not running yet, and "
                + "prints the agent's MBean (" + StatusCommand.MBEAN + "): role and phase, epoch, determinants "
                + "recorded by type, bytes appended, appended/written/stable positions and the stable lag, forces "
                + "and their latency, output held in outboxes, connections, checkpoints.",
                "The JVM must run as the same user; any JMX client (jconsole, VisualVM) shows the same MBean."},
        footerHeading = "%n",
        footer = "Exit codes: 0 ok; 1 the process cannot be attached to, or runs no Revenant agent (or has not "
                + "registered its MBean yet: it does so just after start-up); 2 usage.")
public final class StatusCommand implements Callable<Integer> {
    static final String MBEAN = "dev.revenant:type=Agent";

    @Spec
    CommandSpec spec;

    @Option(names = "--pid", required = true, paramLabel = "PID", description = "Process id of the JVM to read.")
    long pid;

    @Option(names = "--json", description = "Print one JSON object: the MBean's attributes, names in camelCase.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String url;
        try {
            url = localConnectorAddress(pid);
        } catch (Exception e) {
            err.println("revenant status: cannot attach to process " + pid + ": " + describe(e));
            return RevenantCli.EXIT_PROBLEM;
        }
        try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(url))) {
            MBeanServerConnection m = c.getMBeanServerConnection();
            ObjectName name = new ObjectName(MBEAN);
            if (!m.isRegistered(name)) {
                err.println("revenant status: process " + pid + " has no " + MBEAN + " MBean: it runs no Revenant agent "
                        + "(or one started with jmx=false, or it is still starting)");
                return RevenantCli.EXIT_PROBLEM;
            }
            MBeanAttributeInfo[] infos = m.getMBeanInfo(name).getAttributes();
            String[] names = new String[infos.length];
            for (int i = 0; i < infos.length; i++) {
                names[i] = infos[i].getName();
            }
            AttributeList list = m.getAttributes(name, names);
            if (json) {
                StringBuilder sb = new StringBuilder("{\"mbean\":").append(Json.str(MBEAN));
                for (Attribute a : list.asList()) {
                    sb.append(',').append(Json.str(camel(a.getName()))).append(':');
                    json(sb, a.getValue());
                }
                out.println(sb.append('}'));
            } else {
                out.println("process " + pid + ", MBean " + MBEAN + ":");
                for (Attribute a : list.asList()) {
                    StringBuilder v = new StringBuilder();
                    text(v, a.getValue());
                    out.printf("  %-34s %s%n", camel(a.getName()), v);
                }
            }
            return RevenantCli.EXIT_OK;
        }
    }

    /**
     * The JMX address of the process's local connector, started if need be. The attach API lives
     * in the jdk.attach module, which the application class loader defines: the CLI's own loader
     * does not see it, so it is reached by reflection.
     */
    static String localConnectorAddress(long pid) throws Exception {
        Class<?> vmClass = Class.forName("com.sun.tools.attach.VirtualMachine", true,
                ClassLoader.getSystemClassLoader());
        Object vm;
        try {
            vm = vmClass.getMethod("attach", String.class).invoke(null, Long.toString(pid));
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        }
        Method detach = vmClass.getMethod("detach");
        try {
            return (String) vmClass.getMethod("startLocalManagementAgent").invoke(vm);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        } finally {
            detach.invoke(vm);
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        String type = e.getClass().getSimpleName();
        if (type.equals("AttachNotSupportedException") || type.equals("ClassNotFoundException")) {
            return m == null ? type : m + (type.equals("ClassNotFoundException") ? " (this JDK has no jdk.attach module)"
                    : "");
        }
        return m == null ? e.toString() : type + ": " + m;
    }

    static String camel(String attribute) {
        return attribute.isEmpty() ? attribute : Character.toLowerCase(attribute.charAt(0)) + attribute.substring(1);
    }

    private static void json(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Double d) {
            sb.append(d.isNaN() || d.isInfinite() ? "null" : String.format(Locale.ROOT, "%.3f", d));
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else if (v instanceof long[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i == 0 ? "" : ",").append(a[i]);
            }
            sb.append(']');
        } else if (v instanceof TabularData t) {
            sb.append('{');
            boolean first = true;
            for (CompositeData row : rows(t)) {
                sb.append(first ? "" : ",").append(Json.str(String.valueOf(row.get("key")))).append(':');
                json(sb, row.get("value"));
                first = false;
            }
            sb.append('}');
        } else {
            sb.append(Json.str(String.valueOf(v)));
        }
    }

    private static void text(StringBuilder sb, Object v) {
        if (v instanceof Double d) {
            sb.append(String.format(Locale.ROOT, "%.3f", d));
        } else if (v instanceof long[] a) {
            sb.append(java.util.Arrays.toString(a));
        } else if (v instanceof TabularData t) {
            List<String> parts = new ArrayList<>();
            for (CompositeData row : rows(t)) {
                parts.add(row.get("key") + "=" + row.get("value"));
            }
            sb.append(String.join(", ", parts));
        } else {
            sb.append(v);
        }
    }

    /** A map attribute's rows, sorted by key (TabularData keeps no order). */
    private static List<CompositeData> rows(TabularData t) {
        @SuppressWarnings("unchecked")
        Collection<CompositeData> values = (Collection<CompositeData>) t.values();
        List<CompositeData> l = new ArrayList<>(values);
        l.sort((a, b) -> String.valueOf(a.get("key")).compareTo(String.valueOf(b.get("key"))));
        return l;
    }
}
