#!/bin/sh
# dbrollback: the rollback file tool and kubectl plugin (kubectl-dbrollback). A runnable jar follows
# this script; java -jar reads a jar with a prefix. Java 17 or later: JAVA_HOME's, else java on PATH.
# The name it runs as tells the tool whether it is the kubectl plugin.
if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  exec "$JAVA_HOME/bin/java" -Ddbrollback.invokedAs="$0" -jar "$0" "$@"
fi
exec java -Ddbrollback.invokedAs="$0" -jar "$0" "$@"
