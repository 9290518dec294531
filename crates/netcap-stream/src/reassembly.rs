//! One direction of a TCP connection put back in order (being written).
