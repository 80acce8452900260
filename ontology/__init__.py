"""RDF vocabulary, SHACL shapes, graph store and SPARQL fleet queries."""
