package io.dbrollback.testing;

import io.quarkus.test.common.QuarkusTestResource;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * On a {@code @QuarkusTest} class: runs the application against a {@link MockApiServer} (CRUD mode, pods/exec
 * run locally), for that class only, like {@code @WithKubernetesTestServer(crud = true)}.
 */
@QuarkusTestResource(value = MockApiServerResource.class, restrictToAnnotatedClass = true)
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface WithMockApiServer {
}
