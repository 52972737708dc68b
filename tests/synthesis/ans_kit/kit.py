"""Check a CDA document against the ANS kit: the CDA extended XSD and the CI-SIS "structuration minimale" schematron."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from saxonche import PySaxonProcessor, PyXsltExecutable

KIT = Path(__file__).resolve().parent
PROFILE = KIT / "schematrons/profils/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch"
ENGINE = KIT / "schematrons/moteur"
XSD = KIT / "infrastructure/cda/CDA_extended.xsd"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


class AnsKit:
    """The schema and the schematron compiled once; `failures` checks one document."""

    def __init__(self, workdir: Path) -> None:
        self.schema = etree.XMLSchema(etree.parse(str(XSD)))
        self.processor = PySaxonProcessor(license=False)
        xslt = self.processor.new_xslt30_processor()
        # The ISO schematron pipeline: resolve includes, expand abstract patterns, compile to XSLT 2.
        # The compiled rules read value sets with doc('include/...'): they must sit beside that folder.
        (workdir / "include").symlink_to(PROFILE.parent / "include", target_is_directory=True)
        text = xslt.transform_to_string(source_file=str(PROFILE), stylesheet_file=str(ENGINE / "iso_dsdl_include.xsl"))
        for step, name in (("iso_abstract_expand.xsl", "expanded.sch"), ("iso_svrl_for_xslt2.xsl", "compiled.xsl")):
            source = workdir / f"source-{name}"
            source.write_text(text)
            text = xslt.transform_to_string(source_file=str(source), stylesheet_file=str(ENGINE / step))
        compiled = workdir / "compiled.xsl"
        compiled.write_text(text)
        self.rules: PyXsltExecutable = xslt.compile_stylesheet(stylesheet_file=str(compiled))
        self.workdir = workdir

    def failures(self, cda: bytes, name: str = "DOC0001.XML") -> list[str]:
        """Return every failed rule of the document: schema errors, then failed schematron assertions."""
        tree = etree.fromstring(cda)
        out = [] if self.schema.validate(tree) else [f"XSD line {e.line}: {e.message}" for e in self.schema.error_log]
        doc = self.workdir / name
        doc.write_bytes(cda)
        report = etree.fromstring(self.rules.transform_to_string(source_file=str(doc)).encode())
        for failed in report.iter(f"{SVRL}failed-assert"):
            out.append(f"{failed.get('location')}: {' '.join(''.join(failed.itertext()).split())}")
        return out
