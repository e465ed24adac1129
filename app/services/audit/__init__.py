"""What auditors use: the timeline, path and search of a case's trail (trail), its business words (wording),
rebuilding a case's state at any event from its audit log (replay), replay verification against the stored
state (verification), the signed checkpoints of every chain outside the database (checkpoints, proof), signed
exports verifiable with the public key alone (exports), the complaints register (register) and the PDFs (paper).
"""
