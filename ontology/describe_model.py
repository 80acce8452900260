"""Model file → RDF description (mls:Model with our resource terms), ready for SHACL and the store."""
from __future__ import annotations

from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from ontology.model_facts import ModelFacts, TensorFacts, inspect_model
from ontology.ns import ER, MLS, SCHEMA, new_graph, model_iri


def describe_model_file(path: str | Path, model_id: str | None = None, *, task: str | None = None,
                        version: int | None = None, accuracy: float | None = None,
                        requires_sensor: str | None = None, measure_arena: bool = True) -> Graph:
    """Parse the file and describe it; model_id defaults to the file's stem."""
    facts = inspect_model(path, measure_arena=measure_arena)
    return model_graph(facts, model_id or Path(path).stem, task=task, version=version,
                       accuracy=accuracy, requires_sensor=requires_sensor)


def model_graph(facts: ModelFacts, model_id: str, *, task: str | None = None, version: int | None = None,
                accuracy: float | None = None, requires_sensor: str | None = None,
                name: str | None = None) -> Graph:
    graph = new_graph()
    model = model_iri(model_id)
    add = graph.add
    add((model, RDF.type, MLS.Model))
    add((model, ER.modelId, Literal(model_id)))
    add((model, RDFS.label, Literal(name or model_id)))
    add((model, SCHEMA.name, Literal(facts.path.name)))
    add((model, ER.modelFormat, Literal(facts.format)))
    add((model, ER.fileSizeBytes, Literal(int(facts.file_size_bytes))))
    add((model, ER.sha256, Literal(facts.sha256)))
    add((model, ER.parameterCount, Literal(int(facts.parameter_count))))
    add((model, ER.operatorCount, Literal(int(facts.operator_count))))
    add((model, ER.quantization, Literal(facts.quantization)))
    for op in facts.ops:
        add((model, ER.usesOperator, Literal(op)))
    if facts.arena_bytes is not None:
        add((model, ER.arenaBytes, Literal(int(facts.arena_bytes))))
    if facts.tflm_compatible is not None:
        add((model, ER.tflmCompatible, Literal(bool(facts.tflm_compatible))))
    if task:
        add((model, ER.task, Literal(task)))
    if version is not None:
        add((model, ER.modelVersion, Literal(int(version))))
    if accuracy is not None:
        add((model, ER.accuracy, Literal(float(accuracy), datatype=XSD.double)))
    if requires_sensor:
        add((model, ER.requiresSensor, Literal(requires_sensor)))
    for kind, tensors, link in (("input", facts.inputs, ER.hasInputTensor),
                                ("output", facts.outputs, ER.hasOutputTensor)):
        for tensor in tensors:
            node = URIRef(f"{model}/{kind}/{tensor.index}")
            add((model, link, node))
            _add_tensor(graph, node, tensor)
    return graph


def _add_tensor(graph: Graph, node: URIRef, tensor: TensorFacts) -> None:
    graph.add((node, RDF.type, ER.TensorSpec))
    graph.add((node, ER.tensorName, Literal(tensor.name)))
    graph.add((node, ER.tensorIndex, Literal(int(tensor.index))))
    graph.add((node, ER.shape, Literal(",".join(str(d) for d in tensor.shape))))
    graph.add((node, ER.dtype, Literal(tensor.dtype)))
    if tensor.scale is not None:
        graph.add((node, ER.quantScale, Literal(float(tensor.scale), datatype=XSD.double)))
        graph.add((node, ER.quantZeroPoint, Literal(int(tensor.zero_point))))
