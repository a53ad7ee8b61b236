"""The daemon side: pymcod's request loop, agents and lifecycle."""
