package dev.revenant.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;

class AgentConfigTest {
    static Properties props(String... kv) {
        Properties p = new Properties();
        for (int i = 0; i < kv.length; i += 2) {
            p.setProperty(kv[i], kv[i + 1]);
        }
        return p;
    }

    @Test
    void defaults() {
        AgentConfig c = AgentConfig.parse(null, Map.of(), new Properties());
        assertThat(c.log()).isEqualTo(Path.of("./revenant-log"));
        assertThat(c.strict()).isTrue();
        assertThat(c.commit()).isEqualTo("pessimistic");
        assertThat(c.exclude()).isEmpty();
        assertThat(c.role()).isEqualTo("record");
    }

    @Test
    void precedenceIsDefaultThenEnvThenPropertyThenAgentArgs() {
        Map<String, String> env = Map.of("REVENANT_LOG", "/env", "REVENANT_COMMIT", "none", "REVENANT_STRICT", "false");
        Properties sys = props("revenant.log", "/prop", "revenant.commit", "pessimistic");
        AgentConfig c = AgentConfig.parse("log=/arg", env, sys);
        assertThat(c.log()).isEqualTo(Path.of("/arg"));
        assertThat(c.commit()).isEqualTo("pessimistic");
        assertThat(c.strict()).isFalse();
        assertThat(AgentConfig.parse(null, env, sys).log()).isEqualTo(Path.of("/prop"));
        assertThat(AgentConfig.parse(null, env, new Properties()).log()).isEqualTo(Path.of("/env"));
    }

    @Test
    void listsUseSemicolons() {
        AgentConfig c = AgentConfig.parse("exclude=com.acme.gen.;org.lib.,role=replay", Map.of(), new Properties());
        assertThat(c.exclude()).isEqualTo(List.of("com.acme.gen.", "org.lib."));
        assertThat(c.role()).isEqualTo("replay");
    }

    @Test
    void unknownKeysAndBadValuesAreOneLineErrors() {
        assertThatThrownBy(() -> AgentConfig.parse("lgo=/x", Map.of(), new Properties()))
                .hasMessage("unknown agent key 'lgo' (known: log, strict, commit, diskfull, exclude, role, force, disable, jmx, stop, hold, schedule, preempt, check)");
        assertThatThrownBy(() -> AgentConfig.parse("check=hashes", Map.of(), new Properties()))
                .hasMessage("check=hashes: expected none or stamps");
        assertThatThrownBy(() -> AgentConfig.parse("strict=maybe", Map.of(), new Properties()))
                .hasMessageContaining("expected true or false");
        assertThatThrownBy(() -> AgentConfig.parse("commit=eventually", Map.of(), new Properties()))
                .hasMessageContaining("expected pessimistic or none");
        assertThatThrownBy(() -> AgentConfig.parse("role=primary", Map.of(), new Properties()))
                .hasMessageContaining("expected record, replay or recover");
        assertThatThrownBy(() -> AgentConfig.parse("justaword", Map.of(), new Properties()))
                .hasMessageContaining("is not key=value");
        assertThatThrownBy(() -> AgentConfig.parse("log=", Map.of(), new Properties()))
                .hasMessageContaining("log= is empty");
        assertThatThrownBy(() -> AgentConfig.parse("disable=network", Map.of(), new Properties()))
                .hasMessage("disable=network: expected clocks, random, threads, hashes or sockets");
        assertThatThrownBy(() -> AgentConfig.parse("stop=12", Map.of(), new Properties()))
                .hasMessageContaining("role=replay only");
        assertThatThrownBy(() -> AgentConfig.parse("role=replay,stop=x", Map.of(), new Properties()))
                .hasMessageContaining("expected a log position");
        assertThatThrownBy(() -> AgentConfig.parse("jmx=sometimes", Map.of(), new Properties()))
                .hasMessageContaining("expected true or false");
        assertThatThrownBy(() -> AgentConfig.parse("preempt=-3", Map.of(), new Properties()))
                .hasMessage("preempt=-3: expected a count of loop back-edges between preemption points (0: off)");
        assertThatThrownBy(() -> AgentConfig.parse("preempt=often", Map.of(), new Properties()))
                .hasMessageContaining("expected a count of loop back-edges");
    }

    @Test
    void preemptionIsOnByDefaultAndCanBeTurnedOff() {
        assertThat(AgentConfig.parse(null, Map.of(), new Properties()).preempt())
                .isEqualTo(AgentConfig.PREEMPT_DEFAULT).isPositive();
        assertThat(AgentConfig.parse("preempt=0", Map.of(), new Properties()).preempt()).isZero();
        assertThat(AgentConfig.parse("preempt=1000", Map.of(), new Properties()).preempt()).isEqualTo(1000);
    }

    @Test
    void stopAndHoldAreForReplayAndJmxIsOnByDefault() {
        AgentConfig d = AgentConfig.parse(null, Map.of(), new Properties());
        assertThat(d.jmx()).isTrue();
        assertThat(d.stop()).isEqualTo(-1);
        assertThat(d.hold()).isFalse();
        AgentConfig c = AgentConfig.parse("role=replay,stop=57,hold=true,jmx=false", Map.of(), new Properties());
        assertThat(c.stop()).isEqualTo(57);
        assertThat(c.hold()).isTrue();
        assertThat(c.jmx()).isFalse();
    }

    @Test
    void diskfullIsHoldOrFail() {
        assertThat(AgentConfig.parse("", Map.of(), new Properties()).diskfull()).isEqualTo("hold");
        assertThat(AgentConfig.parse("diskfull=fail", Map.of(), new Properties()).diskfull()).isEqualTo("fail");
        assertThat(AgentConfig.parse("", Map.of("REVENANT_DISKFULL", "FAIL"), new Properties()).diskfull())
                .isEqualTo("fail");
        assertThatThrownBy(() -> AgentConfig.parse("diskfull=drop", Map.of(), new Properties()))
                .hasMessage("diskfull=drop: expected hold or fail");
    }

    @Test
    void disableTakesEveryCategoryIncludingSockets() {
        AgentConfig c = AgentConfig.parse("disable=clocks;random;threads;hashes;sockets,commit=none", Map.of(),
                new Properties());
        assertThat(c.disable()).containsExactly("clocks", "random", "threads", "hashes", "sockets");
        assertThat(c.commit()).isEqualTo("none");
    }
}
