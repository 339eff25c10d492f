"""The sandbox: every outside system emulated on 127.0.0.1 and the real service wired to them."""
