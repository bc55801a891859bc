"""The compiled rules engine: every rule compiled once at start-up from its Turtle (through the
reference engine's loaded model) into checks over plain Python values; the reference engine
(pySHACL, `RulesEngine.evaluate`) serves any rule the compiler cannot reproduce exactly."""

from .engine import BulkResult, CompiledRules

__all__ = ["BulkResult", "CompiledRules"]
