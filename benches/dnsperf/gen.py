#!/usr/bin/env python3
"""Inputs for the dnsperf comparison (run by run.sh; standard library only).

  gen.py queries TABLE OUT N SEED   dnsperf -B input: N queries for www.example.cn
                                    (A for IPv4 clients, AAAA for IPv6), each with its own
                                    ECS option: a /24 (IPv4, 80 %) or /56 (IPv6) around a
                                    random address of a random block of `linedns table`.
  gen.py knot TABLE ANSWERS OUT     Knot mod-geoip subnet-mode config: every non-default
                                    block with its line's addresses (ANSWERS: JSON
                                    {line: {"A": [...], "AAAA": [...]}}). The blocks do not
                                    overlap, so Knot's match order cannot matter.
"""
import ipaddress
import json
import random
import struct
import sys


def read_table(path):
    blocks = []
    with open(path) as f:
        for line in f:
            net, name = line.split()
            blocks.append((ipaddress.ip_network(net), name))
    return blocks


def wire_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, qtype, subnet):
    fam = 1 if subnet.version == 4 else 2
    nbytes = (subnet.prefixlen + 7) // 8
    addr = subnet.network_address.packed[:nbytes]
    ecs = struct.pack(">HBB", fam, subnet.prefixlen, 0) + addr
    opt_rdata = struct.pack(">HH", 8, len(ecs)) + ecs
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(opt_rdata)) + opt_rdata
    header = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 1)
    return header + wire_name("www.example.cn") + struct.pack(">HH", qtype, 1) + opt


def queries(table, out, n, seed):
    rng = random.Random(int(seed))
    blocks = read_table(table)
    v4 = [b for b in blocks if b[0].version == 4]
    v6 = [b for b in blocks if b[0].version == 6 and b[0].prefixlen >= 16]
    with open(out, "wb") as f:
        for i in range(int(n)):
            pool, plen, qtype = (v4, 24, 1) if rng.random() < 0.8 else (v6, 56, 28)
            net, _ = rng.choice(pool)
            addr = int(net.network_address) + rng.randrange(net.num_addresses)
            subnet = ipaddress.ip_network((addr, plen), strict=False) if net.version == 4 else ipaddress.ip_network((addr, plen), strict=False)
            msg = query(i & 0xFFFF, qtype, subnet)
            f.write(struct.pack(">H", len(msg)) + msg)


def knot(table, answers, out):
    answers = json.load(open(answers))
    with open(out, "w") as f:
        f.write("www.example.cn:\n")
        for net, line in read_table(table):
            if line == "default":
                continue  # the zone file's own records are the default pool
            rr = answers[line]
            f.write(f"  - net: {net}\n")
            for rtype in ("A", "AAAA"):
                if rr.get(rtype):
                    f.write(f"    {rtype}: [ {', '.join(rr[rtype])} ]\n")


if __name__ == "__main__":
    {"queries": queries, "knot": knot}[sys.argv[1]](*sys.argv[2:])
