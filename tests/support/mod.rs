//! Test servers started by the harness on free ports: Redis, a Redis
//! Cluster. Each dies with the test process, even when it aborts.

#![allow(dead_code)]

pub mod instance;
pub mod proxy;
pub mod redis;
pub mod s3;
