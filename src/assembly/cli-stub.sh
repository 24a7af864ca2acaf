#!/bin/sh
# dbrollback: the rollback file tool and kubectl plugin (kubectl-dbrollback). A runnable jar follows
# this line; java -jar reads a jar with a prefix. Java 17 or later: JAVA_HOME's, else java on PATH.
if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then exec "$JAVA_HOME/bin/java" -jar "$0" "$@"; fi
exec java -jar "$0" "$@"
