package io.dbrollback.operator;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.time.Duration;
import java.util.Map;

/** The operator's {@link OperatorConfig} as Quarkus builds it, from given properties, in milliseconds. */
final class Configs {

    private Configs() {
    }

    /** The mapping over {@code properties} (and the mapping's defaults); no environment, no files. */
    static OperatorConfig of(Map<String, String> properties) {
        SmallRyeConfig config = new SmallRyeConfigBuilder().withMapping(OperatorConfig.class)
                // Quarkus' own duration format (10s, 5m), as the running operator reads it
                .withConverter(Duration.class, 200, new DurationConverter())
                .withSources(new PropertiesConfigSource(properties, "test", 500)).build();
        return config.getConfigMapping(OperatorConfig.class);
    }
}
