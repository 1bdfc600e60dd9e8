#!/usr/bin/python3
"""Writes the seed corpus of fuzz_frames into tests/fuzz/corpus/frames/.

Each seed is a sequence of records as fuzz_frames.c reads them: one byte of
FIX_* flags, the frame's length in two bytes (big-endian), the frame. The
flags let a seed reach the harness's tracked connection and listener
whatever their ports and sequence numbers are; see fuzz_frames.c. Run it
with Debian's python3-scapy:  /usr/bin/python3 tests/fuzz/make_frames_corpus.py
The output is deterministic, so the committed files only change when this
script does.
"""
import os
import struct
import sys

from scapy.all import ARP, IP, TCP, UDP, ICMP, Dot1Q, Ether, IPv6, Raw, fragment

FIX_SUM, FIX_ADDR, FIX_CONN, FIX_LISTEN, FIX_LEN, FIX_PASSIVE = 1, 2, 4, 8, 16, 32
DO_SEND, DO_CLOSE = 64, 128  # the tracked connection sends, or closes, before the frame
# The harness's addresses (fuzz_frames.c).
LWIPD_MAC, PEER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
LWIPD_IP, PEER_IP = "10.9.0.1", "10.9.0.2"
LISTEN_PORT = 80

CONN = FIX_SUM | FIX_ADDR | FIX_CONN | FIX_LEN     # a segment of the tracked connection
LISTEN = FIX_SUM | FIX_ADDR | FIX_LISTEN | FIX_LEN  # a segment to the listener
PASSIVE = LISTEN | FIX_PASSIVE                     # the listener's last handshake
OPTIONS = [("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""),
           ("Timestamp", (1, 0))]

seeds = {}


def eth():
    return Ether(dst=LWIPD_MAC, src=PEER_MAC)


def ip4(**kw):
    return eth() / IP(src=PEER_IP, dst=LWIPD_IP, **kw)


def tcp(flags, seq=0, ack=0, sport=40000, dport=LISTEN_PORT, payload=b"", **kw):
    pkt = ip4() / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, **kw)
    return pkt / Raw(payload) if payload else pkt


def record(flags, frame):
    data = bytes(frame)
    return struct.pack(">BH", flags, len(data)) + data


def seed(name, *records):
    seeds[name] = b"".join(records)


# ARP.
seed("arp_request", record(0, eth() / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=LWIPD_IP)))
seed("arp_reply", record(0, eth() / ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=LWIPD_MAC,
                                        pdst=LWIPD_IP)))
seed("arp_gratuitous_other", record(0, Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:09") /
                                    ARP(op=2, hwsrc="02:00:00:00:00:09", psrc="10.9.0.9",
                                        pdst="10.9.0.9")))
seed("arp_bad_sizes", record(0, eth() / ARP(op=1, hwlen=8, plen=16, psrc=PEER_IP, pdst=LWIPD_IP)))

# The listener: SYNs with options, odd and truncated ones, then whole handshakes.
seed("syn_options", record(LISTEN, tcp("S", seq=1000, options=OPTIONS)))
seed("syn_no_options", record(LISTEN, tcp("S", seq=1000)))
seed("syn_mss_64", record(LISTEN, tcp("S", seq=1000, options=[("MSS", 64)])))
seed("syn_mss_0_wscale_15", record(LISTEN, tcp("S", seq=1000, options=[("MSS", 0), ("WScale", 15)])))
seed("syn_odd_options", record(LISTEN, tcp("S", seq=1000, options=[
    ("NOP", None), (99, b"\x01\x02"), ("EOL", None), ("MSS", 1460)])))
# An option whose length runs past the header, and one of length 0.
odd = tcp("S", seq=1000, options=[("NOP", None)] * 4)
odd_bytes = bytearray(bytes(odd))
odd_bytes[-4:] = b"\x02\x08\x05\xb4"
seed("syn_option_overrun", record(LISTEN, bytes(odd_bytes)))
odd_bytes[-4:] = b"\x03\x00\x01\x01"
seed("syn_option_zero_length", record(LISTEN, bytes(odd_bytes)))
# The data offset claims 60 bytes of header; the frame holds 24.
trunc = bytearray(bytes(tcp("S", seq=1000, options=[("MSS", 1460)])))
trunc[14 + 20 + 12] = 15 << 4
seed("syn_truncated_options", record(LISTEN, bytes(trunc)))
seed("syn_with_data", record(LISTEN, tcp("S", seq=1000, payload=b"early")))
seed("syn_fin", record(LISTEN, tcp("SF", seq=1000)))
seed("syn_rst", record(LISTEN, tcp("SR", seq=1000)))
seed("passive_handshake", record(LISTEN, tcp("S", seq=1000, options=OPTIONS)),
     record(PASSIVE, tcp("A", seq=1001)),
     record(PASSIVE, tcp("PA", seq=1001, payload=b"hello")),
     record(PASSIVE, tcp("FA", seq=1006)))
seed("passive_bad_ack", record(LISTEN, tcp("S", seq=1000)),
     record(PASSIVE, tcp("A", seq=1001, ack=5)))
seed("passive_rst_in_syn_rcvd", record(LISTEN, tcp("S", seq=1000)),
     record(PASSIVE, tcp("R", seq=1001)))
seed("passive_syn_again", record(LISTEN, tcp("S", seq=1000)), record(LISTEN, tcp("S", seq=1000)),
     record(LISTEN, tcp("S", seq=5000)))
seed("syn_flood", *[record(LISTEN, tcp("S", seq=i, sport=41000 + i)) for i in range(12)])
seed("ack_no_connection", record(LISTEN, tcp("A", seq=1, ack=1)))
seed("syn_closed_port", record(FIX_SUM | FIX_ADDR | FIX_LEN, tcp("S", seq=1, dport=81)))

# The tracked connection: seq and ack are offsets from its rcv_nxt and snd_nxt.
seed("conn_data", record(CONN, tcp("PA", payload=b"x" * 100)))
seed("conn_data_then_fin", record(CONN, tcp("PA", payload=b"abc")),
     record(CONN, tcp("FA", seq=3)), record(CONN, tcp("A", seq=4)))
seed("conn_fin", record(CONN, tcp("FA")))
seed("conn_fin_no_ack", record(CONN, tcp("F")))
seed("conn_rst", record(CONN, tcp("R")))
seed("conn_rst_ack", record(CONN, tcp("RA")))
seed("conn_rst_out_of_window", record(CONN, tcp("R", seq=100000)))
seed("conn_fin_half_space_away", record(CONN, tcp("FA", seq=2 ** 31)))
seed("conn_data_out_of_window", record(CONN, tcp("PA", seq=0x40000000, payload=b"far")))
seed("conn_data_old", record(CONN, tcp("PA", seq=(-1000) & 0xffffffff, payload=b"old")))
seed("conn_ack_future", record(CONN, tcp("A", ack=100000)))
seed("conn_zero_window", record(CONN, tcp("A", window=0)))
seed("conn_syn_in_established", record(CONN, tcp("S")))
seed("conn_synack_again", record(CONN, tcp("SA", seq=(-1) & 0xffffffff)))
seed("conn_bad_checksum", record(FIX_ADDR | FIX_CONN | FIX_LEN, tcp("PA", payload=b"bad")))
seed("conn_out_of_order", record(CONN, tcp("PA", seq=10, payload=b"later")),
     record(CONN, tcp("PA", seq=0, payload=b"first12345")))
seed("conn_urgent", record(CONN, tcp("UA", urgptr=2, payload=b"urgent")))
seed("conn_timestamps", record(CONN, tcp("A", options=[("Timestamp", (5, 6))])))
seed("conn_big_segment", record(CONN, tcp("PA", payload=bytes(range(256)) * 5)))
seed("conn_send_ack", record(CONN | DO_SEND, tcp("A")), record(CONN | DO_SEND, tcp("A", ack=-1000 & 0xffffffff)),
     record(CONN, tcp("A")))
seed("conn_send_zero_window", record(CONN | DO_SEND, tcp("A", window=0)),
     record(CONN | DO_SEND, tcp("A", window=100)))
seed("conn_send_dup_acks", record(CONN | DO_SEND, tcp("A", ack=-3000 & 0xffffffff)),
     *[record(CONN, tcp("A", ack=-3000 & 0xffffffff)) for _ in range(4)])
seed("conn_close_to_time_wait", record(CONN | DO_CLOSE, tcp("A")), record(CONN, tcp("FA")))
seed("conn_close_simultaneous", record(CONN | DO_CLOSE, tcp("FA", ack=-1 & 0xffffffff)),
     record(CONN, tcp("A", seq=1)))
seed("conn_close_then_rst", record(CONN | DO_CLOSE, tcp("R")))
seed("conn_close_then_data", record(CONN | DO_CLOSE, tcp("A")),
     record(CONN, tcp("PA", payload=b"after our FIN")))
seed("conn_send_close_fin", record(CONN | DO_SEND | DO_CLOSE, tcp("FA")))

# Every TCP flag combination, 64 to a seed, at the tracked connection and the listener.
for target, flags in (("conn", CONN), ("listen", LISTEN)):
    for part in range(4):
        seed(f"flags_{target}_{part}", *[record(flags, tcp(f, seq=0, payload=b"d" if f & 1 else b""))
                                          for f in range(part * 64, part * 64 + 64)])

# IPv4 fragments: lwipd drops them, lwIP must never reassemble them.
syn = IP(src=PEER_IP, dst=LWIPD_IP, id=7) / TCP(sport=40001, dport=LISTEN_PORT, flags="S", seq=1,
                                                options=OPTIONS) / Raw(b"p" * 40)
frags = fragment(syn, fragsize=24)
seed("fragments_syn", *[record(0, eth() / f) for f in frags])
seed("fragment_first", record(0, eth() / frags[0]))
seed("fragment_middle", record(0, eth() / frags[1]))
seed("fragment_last", record(0, eth() / frags[-1]))
seed("fragments_reversed", *[record(0, eth() / f) for f in reversed(frags)])
over = IP(src=PEER_IP, dst=LWIPD_IP, id=8, flags="MF", frag=1, proto=6) / Raw(b"o" * 32)
seed("fragments_overlapping", record(0, eth() / frags[0]), record(0, eth() / over),
     *[record(0, eth() / f) for f in frags[1:]])
seed("dont_fragment", record(LISTEN, ip4(flags="DF") / TCP(sport=40002, dport=LISTEN_PORT, flags="S")))

# Other protocols and broken headers.
seed("ipv6", record(0, Ether(dst=LWIPD_MAC, src=PEER_MAC) / IPv6(src="fe80::2", dst="fe80::1") /
                    TCP(sport=40000, dport=LISTEN_PORT, flags="S")))
seed("vlan", record(0, Ether(dst=LWIPD_MAC, src=PEER_MAC) / Dot1Q(vlan=5) /
                    IP(src=PEER_IP, dst=LWIPD_IP) / TCP(sport=40000, dport=LISTEN_PORT, flags="S")))
seed("runts", record(0, b""), record(0, b"\x02"), record(0, bytes(eth())[:13]),
     record(0, bytes(eth())), record(0, bytes(ip4())[:30]))
for ihl in (0, 3, 4, 6, 15):
    pkt = bytearray(bytes(tcp("S", seq=1)))
    pkt[14] = 0x40 | ihl
    seed(f"bad_ihl_{ihl}", record(0, bytes(pkt)), record(FIX_SUM, bytes(pkt)))
bad = bytearray(bytes(tcp("S", seq=1)))
bad[14] = 0x65
seed("bad_version", record(FIX_SUM, bytes(bad)))
long_len = bytearray(bytes(tcp("S", seq=1)))
long_len[16:18] = b"\xff\xff"
seed("total_length_too_long", record(FIX_SUM, bytes(long_len)))
short_len = bytearray(bytes(tcp("S", seq=1)))
short_len[16:18] = b"\x00\x10"
seed("total_length_too_short", record(FIX_SUM, bytes(short_len)))
seed("ip_options", record(LISTEN, ip4(options=b"\x07\x07\x04\x00\x00\x00\x00\x01") /
                          TCP(sport=40003, dport=LISTEN_PORT, flags="S")))
seed("tcp_data_offset_small", record(LISTEN, tcp("S", seq=1, dataofs=2)))
seed("padded_frame", record(LISTEN, bytes(tcp("S", seq=1)) + b"\x00" * 20))
seed("udp", record(0, ip4() / UDP(sport=5000, dport=53) / Raw(b"q")))
# UDP-Lite with a checksum coverage past its end: it aborted lwIP on an assertion.
seed("udplite_long_coverage", record(FIX_SUM | FIX_LEN, ip4(proto=136) /
                                     Raw(b"\x13\x88\x13\x89\xff\xff\x00\x00" + b"x" * 32)))
seed("icmp_echo", record(0, ip4() / ICMP(type=8, id=1, seq=1) / Raw(b"ping")))
seed("to_broadcast_mac", record(FIX_SUM | FIX_LEN, Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC) /
                                IP(src=PEER_IP, dst=LWIPD_IP) / TCP(dport=LISTEN_PORT, flags="S")))
seed("to_other_ip", record(0, eth() / IP(src=PEER_IP, dst="10.9.0.77") / TCP(dport=LISTEN_PORT, flags="S")))
seed("from_own_ip", record(0, eth() / IP(src=LWIPD_IP, dst=LWIPD_IP) / TCP(dport=LISTEN_PORT, flags="S")))


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "frames")
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        os.unlink(os.path.join(out, old))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
