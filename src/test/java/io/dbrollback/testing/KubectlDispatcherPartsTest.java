package io.dbrollback.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The pure parts of {@link KubectlDispatcher}: patches, JSONPath, ages, field selectors. No server, no kubectl. */
class KubectlDispatcherPartsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String s) throws Exception {
        return JSON.readTree(s.replace('\'', '"'));
    }

    @Test
    void mergePatchRemovesNullsAndReplacesLists() throws Exception {
        JsonNode target = json("{'a':1,'b':{'c':2,'d':3},'l':[1,2]}");
        JsonNode patched = MergePatches.merge(target, json("{'a':null,'b':{'d':null,'e':4},'l':[3]}"));
        assertEquals(json("{'b':{'c':2,'e':4},'l':[3]}"), patched);
    }

    @Test
    void strategicMergeMergesNamedListsAndHonoursDirectives() throws Exception {
        JsonNode pod = json("{'spec':{'containers':[{'name':'db','image':'db:1','ports':[{'containerPort':5432}]},"
                + "{'name':'agent','image':'agent:1'}],'finalizers':['a','b']}}");
        ObjectNode patch = (ObjectNode) json("{'spec':{'$setElementOrder/containers':[{'name':'agent'},{'name':'db'}],"
                + "'containers':[{'name':'db','image':'db:2'}],'$deleteFromPrimitiveList/finalizers':['a']}}");
        assertEquals(json("{'spec':{'containers':[{'name':'agent','image':'agent:1'},"
                + "{'name':'db','image':'db:2','ports':[{'containerPort':5432}]}],'finalizers':['b']}}"),
                MergePatches.strategic(pod, patch));

        JsonNode deleted = MergePatches.strategic(json("{'c':[{'name':'x'},{'name':'y'}]}"),
                (ObjectNode) json("{'c':[{'name':'x','$patch':'delete'}]}"));
        assertEquals(json("{'c':[{'name':'y'}]}"), deleted);
    }

    @Test
    void jsonPathSubsetOfPrinterColumns() throws Exception {
        JsonNode o = json("{'status':{'conditions':[{'type':'Progressing','status':'True'},{'type':'Ready',"
                + "'status':'False'}],'plan':{'forkLsn':1234}},'metadata':{'labels':{'app.kubernetes.io/name':'db'}}}");
        assertEquals(1234, JsonPathLite.first(o, ".status.plan.forkLsn").asInt());
        assertEquals("False", JsonPathLite.first(o, ".status.conditions[?(@.type==\"Ready\")].status").asText());
        assertEquals("True", JsonPathLite.first(o, ".status.conditions[0].status").asText());
        assertEquals("False", JsonPathLite.first(o, ".status.conditions[-1].status").asText());
        assertEquals("db", JsonPathLite.first(o, ".metadata.labels['app.kubernetes.io/name']").asText());
        assertEquals(2, JsonPathLite.all(o, ".status.conditions[*].type").size());
        assertNull(JsonPathLite.first(o, ".status.tail.records"));
    }

    @Test
    void agesAsKubectlPrintsThem() {
        assertEquals("0s", KubectlTables.humanDuration(Duration.ofMillis(-500)));
        assertEquals("59s", KubectlTables.humanDuration(Duration.ofSeconds(59)));
        assertEquals("119s", KubectlTables.humanDuration(Duration.ofSeconds(119)));
        assertEquals("2m5s", KubectlTables.humanDuration(Duration.ofSeconds(125)));
        assertEquals("15m", KubectlTables.humanDuration(Duration.ofMinutes(15)));
        assertEquals("3h5m", KubectlTables.humanDuration(Duration.ofMinutes(185)));
        assertEquals("30h", KubectlTables.humanDuration(Duration.ofHours(30)));
        assertEquals("3d2h", KubectlTables.humanDuration(Duration.ofHours(74)));
        assertEquals("40d", KubectlTables.humanDuration(Duration.ofDays(40)));
        assertEquals("<unknown>", KubectlTables.age(null, Instant.now()));
    }

    @Test
    void fieldSelectorTerms() {
        List<String[]> terms = KubectlDispatcher.parseFieldSelector("involvedObject.name=rb-1,type!=Normal,reason==X");
        assertEquals(3, terms.size());
        assertArrayEquals(new String[] {"involvedObject.name", "=", "rb-1"}, terms.get(0));
        assertArrayEquals(new String[] {"type", "!=", "Normal"}, terms.get(1));
        assertArrayEquals(new String[] {"reason", "=", "X"}, terms.get(2));
    }
}
