package io.dbrollback.testing;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A test class that starts processes or servers (the mock API server, gRPC servers, reference nodes,
 * Quarkus, shells for pod exec). {@code mvn test} leaves these out (the fast, pure tier); {@code mvn
 * verify} runs them in the integration-test phase, with the {@code *IT} classes. ArchitectureTest
 * checks that no test class starts such things without being one of the two.
 */
@Documented
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag(IntegrationTest.TAG)
public @interface IntegrationTest {

    /** The JUnit tag. */
    String TAG = "integration";
}
