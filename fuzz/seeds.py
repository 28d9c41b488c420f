#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (scripts/fuzz runs this): real files for `file` and
`decode`, and captured-style byte streams for `dimse` (an association request and P-DATA
messages: C-ECHO, C-STORE with a data set, N-ACTION, N-EVENT-REPORT, C-FIND) and `commitment`
(requests and reports in Explicit and Implicit VR). Written with pydicom, independent of
qcdesk."""

import os
import shutil
import struct
import sys

import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.sequence import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "pydicom", "test_files")
CORPUS = os.path.join(HERE, "corpus")


def element(group, elem, value):
    return struct.pack("<HHI", group, elem, len(value)) + value


def uid(text):
    b = text.encode()
    return b + (b"\0" if len(b) % 2 else b"")


def command(field, sop_class, msg_id, has_data, extra=b""):
    body = element(0, 0x0002, uid(sop_class)) + element(0, 0x0100, struct.pack("<H", field))
    body += element(0, 0x0110, struct.pack("<H", msg_id))
    body += extra
    body += element(0, 0x0800, struct.pack("<H", 0 if has_data else 0x0101))
    return element(0, 0, struct.pack("<I", len(body))) + body


def pdata(pc, is_command, last, data):
    pdv = struct.pack(">I", len(data) + 2) + bytes([pc, (1 if is_command else 0) | (2 if last else 0)]) + data
    return b"\x04\x00" + struct.pack(">I", len(pdv)) + pdv


def item(kind, body):
    return bytes([kind, 0]) + struct.pack(">H", len(body)) + body


def associate_rq(syntaxes):
    body = b"\x00\x01\x00\x00" + b"QC_SCP".ljust(16) + b"MODALITY".ljust(16) + b"\0" * 32
    body += item(0x10, b"1.2.840.10008.3.1.1.1")
    for i, sop in enumerate(syntaxes):
        body += item(0x20, bytes([2 * i + 1, 0, 0, 0]) + item(0x30, sop.encode()) + item(0x40, b"1.2.840.10008.1.2.1"))
    body += item(0x50, item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4") + item(0x55, b"SEED"))
    return b"\x01\x00" + struct.pack(">I", len(body)) + body


def dataset_bytes(ds, implicit=False):
    out = DicomBytesIO()
    out.is_little_endian = True
    out.is_implicit_VR = implicit
    pydicom.filewriter.write_dataset(out, ds)
    return out.getvalue()


def commitment(failed=False):
    ds = Dataset()
    ds.TransactionUID = "1.2.3.4.5.6"
    refs = []
    for i in range(3):
        r = Dataset()
        r.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        r.ReferencedSOPInstanceUID = f"1.2.3.4.{i}"
        refs.append(r)
    ds.ReferencedSOPSequence = Sequence(refs)
    if failed:
        f = Dataset()
        f.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        f.ReferencedSOPInstanceUID = "1.2.3.4.9"
        f.FailureReason = 0x0112
        ds.FailedSOPSequence = Sequence([f])
    return ds


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def main():
    for name in sorted(os.listdir(DATA)):
        path = os.path.join(DATA, name)
        if os.path.isfile(path) and os.path.getsize(path) <= 1 << 20:
            for target in ("file", "decode"):
                os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
                shutil.copy(path, os.path.join(CORPUS, target, name))
    ct = dataset_bytes(pydicom.dcmread(os.path.join(DATA, "CT_small.dcm")))
    rq = associate_rq(["1.2.840.10008.1.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.20.1"])
    echo = command(0x0030, "1.2.840.10008.1.1", 1, False)
    store = command(0x0001, "1.2.840.10008.5.1.4.1.1.2", 2, True, element(0, 0x1000, uid("1.2.3.4")))
    report = dataset_bytes(commitment(True))
    action = command(0x0130, "1.2.840.10008.1.20.1", 3, True)
    event = command(0x0100, "1.2.840.10008.1.20.1", 4, True)
    find = command(0x0020, "1.2.840.10008.5.1.4.1.2.2.1", 5, True)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientName = "DOE*"
    write("dimse", "echo", rq + pdata(1, True, True, echo))
    write("dimse", "store", rq + pdata(3, True, True, store) + pdata(3, False, False, ct[:4000]) + pdata(3, False, True, ct[4000:]))
    write("dimse", "n-action", pdata(5, True, True, action) + pdata(5, False, True, dataset_bytes(commitment())))
    write("dimse", "n-event-report", pdata(5, True, True, event) + pdata(5, False, True, report))
    write("dimse", "c-find", pdata(1, True, True, find) + pdata(1, False, True, dataset_bytes(query)))
    write("dimse", "release", b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")
    for failed in (False, True):
        for implicit in (False, True):
            write("commitment", f"report-{failed}-{implicit}", dataset_bytes(commitment(failed), implicit))
    print(f"seeds written under {CORPUS}")


if __name__ == "__main__":
    sys.exit(main())
