#!/usr/bin/env python3
"""Writes Modality Worklist items as DCMTK wlmscpfs data files (.wl) with pydicom.

Reads JSON from stdin: {"dir": "ROOT/AE", "items": [{...}, ...]} and writes one
`<file or index>.wl` per item (Explicit VR Little Endian, file meta). Text is encoded by
pydicom according to each item's `charset` (default ISO_IR 100), so the bytes on the wire
come from an implementation independent of qcdesk. Keys: charset, accession, patient_name,
patient_id, issuer, birth_date, sex, modality, station, date, time, sps_id, rp_id,
procedure, study_uid, referring, requesting, admission, file.
"""
import json
import sys

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def code(value, meaning):
    c = Dataset()
    c.CodeValue = value or "X"
    c.CodingSchemeDesignator = "99RGH"
    c.CodeMeaning = meaning or "unspecified"
    return c


spec = json.load(sys.stdin)
out_dir = spec["dir"]
for n, raw in enumerate(spec["items"]):
    it = {k: v for k, v in raw.items() if v is not None}
    ds = Dataset()
    charset = it.get("charset", "ISO_IR 100")
    if charset:
        ds.SpecificCharacterSet = charset.split("\\") if "\\" in charset else charset
    ds.AccessionNumber = it.get("accession", "")
    ds.ReferringPhysicianName = it.get("referring", "")
    ds.PatientName = it.get("patient_name", "")
    ds.PatientID = it.get("patient_id", "")
    ds.IssuerOfPatientID = it.get("issuer", "")
    ds.PatientBirthDate = it.get("birth_date", "")
    ds.PatientSex = it.get("sex", "")
    ds.AdmissionID = it.get("admission", "")
    ds.StudyInstanceUID = it.get("study_uid") or generate_uid()
    ds.RequestingPhysician = it.get("requesting", "")
    ds.RequestedProcedureDescription = it.get("procedure", "")
    ds.RequestedProcedureID = it.get("rp_id", "")
    ds.RequestedProcedurePriority = ""
    ds.ReferencedStudySequence = Sequence([])
    ds.RequestedProcedureCodeSequence = Sequence([code(it.get("procedure_code", ""), it.get("procedure", ""))])
    step = Dataset()
    step.Modality = it.get("modality", "")
    step.ScheduledStationAETitle = it.get("station", "")
    step.ScheduledProcedureStepStartDate = it.get("date", "")
    step.ScheduledProcedureStepStartTime = it.get("time", "")
    step.ScheduledPerformingPhysicianName = ""
    step.ScheduledProcedureStepDescription = it.get("step_description", it.get("procedure", ""))
    step.ScheduledProcedureStepID = it.get("sps_id", "")
    # wlmscpfs rejects items without a protocol code as incomplete.
    step.ScheduledProtocolCodeSequence = Sequence([code(it.get("protocol_code", "P-" + step.Modality), it.get("protocol", "Routine"))])
    ds.ScheduledProcedureStepSequence = Sequence([step])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.276.0.7230010.3.1.0.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    name = it.get("file", str(n))
    ds.save_as(f"{out_dir}/{name}.wl", enforce_file_format=True)
