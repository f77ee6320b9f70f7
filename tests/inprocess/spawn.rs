//! The server as a library: bound sockets on port 0 and a shutdown future, in-process.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use linedns::serve::{Server, bind};
use linedns::{CompileOptions, compile_str};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn query(name: &str, subnet: Option<(&str, u8)>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    if let Some((addr, len)) = subnet {
        let mut edns = Edns::new();
        edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(addr.parse().unwrap(), len, 0)));
        m.set_edns(edns);
    }
    m.to_vec().unwrap()
}

async fn udp_ask(server: SocketAddr, packet: &[u8]) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf)).await.expect("answer in time").unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn tcp_ask(stream: &mut TcpStream, packet: &[u8]) -> Message {
    stream.write_all(&(packet.len() as u16).to_be_bytes()).await.unwrap();
    stream.write_all(packet).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut msg = vec![0u8; len.into()];
    stream.read_exact(&mut msg).await.unwrap();
    Message::from_vec(&msg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_server_on_port_zero_answers_udp_and_tcp_and_stops() {
    let server =
        Server::from_rules(&common::repo_path("tests/rules/server.yaml"), CompileOptions::default(), None).unwrap();
    let listeners = bind(&["127.0.0.1:0".parse().unwrap()], 2).unwrap();
    let (udp, tcp) = listeners.local_addrs().unwrap();
    assert_eq!(udp.len(), 2, "two SO_REUSEPORT sockets on one port");
    assert!(udp.iter().all(|a| a.port() == tcp[0].port() && a.port() != 0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server.run(listeners, async {
        let _ = stopped.await;
    }));

    let r = udp_ask(udp[0], &query("www.example.com.", Some(("198.51.100.128", 25)))).await;
    assert_eq!(r.answers.len(), 3);
    let mut stream = TcpStream::connect(tcp[0]).await.unwrap();
    let r = tcp_ask(&mut stream, &query("www.example.com.", Some(("198.51.100.0", 27)))).await;
    assert_eq!(r.answers[0].data.to_string(), "192.0.2.11");

    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(7), server).await.expect("server stops").unwrap();
    assert!(result.is_ok());
    // The open connection was closed at shutdown, and the port no longer answers.
    let mut rest = [0u8; 1];
    assert!(matches!(stream.read(&mut rest).await, Ok(0) | Err(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_over_the_cap_are_closed() {
    let text = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml"))
        .unwrap()
        .replace("tcp_idle_timeout_ms: 2000", "tcp_idle_timeout_ms: 5000\n  tcp_max_connections: 2");
    let compiled =
        compile_str(&text, &common::repo_path("tests/rules/server.yaml"), &CompileOptions::default()).unwrap();
    assert_eq!(compiled.host.tcp_max_connections, 2);
    let listeners = bind(&["127.0.0.1:0".parse().unwrap()], 1).unwrap();
    let (_, tcp) = listeners.local_addrs().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::new(compiled).run(listeners, async {
        let _ = stopped.await;
    }));
    let mut first = TcpStream::connect(tcp[0]).await.unwrap();
    let mut second = TcpStream::connect(tcp[0]).await.unwrap();
    tcp_ask(&mut first, &query("static.example.com.", None)).await;
    tcp_ask(&mut second, &query("static.example.com.", None)).await;
    let mut third = TcpStream::connect(tcp[0]).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), third.read(&mut byte)).await.expect("closed at once");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    // A slot frees when a connection ends.
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = TcpStream::connect(tcp[0]).await.unwrap();
    assert_eq!(tcp_ask(&mut fourth, &query("static.example.com.", None)).await.answers.len(), 1);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
